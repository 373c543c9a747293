package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchyard/switchyard/api/console"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// How the console's test caller behaves, in the node's time: it hangs up
// testHangup after the call is answered unless the flow ends first, and
// speaks testMessage into each recording.
const (
	testHangup  = 30 * time.Second
	testMessage = 3 * time.Second
)

// consoleTestCalls places the flow builder's test calls as `switchyard
// sim call` does: a simulated caller originated over the event socket of
// the first connected, undrained node (the embedded emulator when there
// is no FreeSWITCH), calling an ExoPhone and pressing the digits asked.
// speed is the emulator's clock speed (1 for real nodes): the caller's
// waits shrink with it. A call still up when life ends is hung up.
func consoleTestCalls(life context.Context, nodes []*esl.Node, password string, speed float64) console.TestCaller {
	if speed <= 0 {
		speed = 1
	}
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) / speed) }
	return func(ctx context.Context, tc console.TestCall) (console.TestResult, error) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(life, cancel)
		defer stop()
		addr := ""
		for _, n := range nodes {
			if h := n.Health(); h.Connected && !h.Drained {
				addr = n.Addr()
				break
			}
		}
		if addr == "" {
			return console.TestResult{}, errors.New("no node is connected to place the test call")
		}
		res, err := testphone.New(addr, password).Call(ctx, testphone.Script{From: tc.From, To: tc.To, Digits: tc.Digits,
			HangupAfter: scale(testHangup), Message: scale(testMessage), Timeout: 2 * time.Minute})
		var out console.TestResult
		if res != nil {
			out = console.TestResult{CallSid: res.CallSid, Answered: res.Answered, Cause: res.HangupCause}
			for _, s := range res.Path {
				out.Apps = append(out.Apps, s.String())
			}
		}
		if err != nil {
			return out, fmt.Errorf("test call to %s: %w", tc.To, err)
		}
		return out, nil
	}
}
