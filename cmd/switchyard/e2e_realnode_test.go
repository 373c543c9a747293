package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/fsnode"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// TestServeOnRealNode runs the main job, `switchyard serve` with the demo
// tenant, against a real FreeSWITCH started from the project's archive and
// configured from freeswitch-conf/, and against the embedded emulator at
// real speed, and checks that a `sim call` into the Basic Support flow and
// a Calls/connect click-to-call give the same call and leg records on both:
// statuses, durations, talk time, and a recording that plays.
func TestServeOnRealNode(t *testing.T) {
	// Not parallel: a real node runs on real time, and its calls are
	// compared with the emulator's to the second.
	archive, err := fsnode.Locate()
	if errors.Is(err, fsnode.ErrNoArchive) {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node, err := fsnode.Start(ctx, fsnode.Config{Archive: archive})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)
	t.Logf("real node: %s", node.Version)

	var mu sync.Mutex
	got := map[string]mainJob{}
	keep := func(where string, job mainJob) {
		mu.Lock()
		defer mu.Unlock()
		got[where] = job
	}
	t.Run("both", func(t *testing.T) {
		for _, where := range []string{"emulator", "real node"} {
			t.Run(where, func(t *testing.T) {
				t.Parallel()
				var s *server
				if where == "emulator" {
					// Real speed: the caller's script runs on real time, and the
					// emulator must not hide what takes real time on a node.
					s = startServe(t, storetest.SQLiteDSN(t), func(c *Config) { c.emulatorSpeed = 1 })
					keep(where, runMainJob(t, s, s.esl, "ClueCon"))
					return
				}
				s = startServe(t, storetest.SQLiteDSN(t), func(c *Config) {
					c.FSNodes, c.FSPassword, c.RecordingsDir = node.ESL, node.Password, node.RecordingsDir
				})
				if err := node.SetSockets(ctx, s.socket); err != nil {
					t.Fatal(err)
				}
				keep(where, runMainJob(t, s, node.ESL, node.Password))
			})
		}
	})
	emu, real := got["emulator"], got["real node"]
	if t.Failed() {
		return
	}
	for i, name := range []string{"sim call", "click-to-call"} {
		e, r := emu.calls[i], real.calls[i]
		t.Logf("%s: emulator %+v", name, e)
		t.Logf("%s: real node %+v", name, r)
		if e.status != r.status || fmt.Sprint(e.legs) != fmt.Sprint(r.legs) {
			t.Errorf("%s: emulator %s %v, real node %s %v", name, e.status, e.legs, r.status, r.legs)
		}
		if (e.audio > 0) != (r.audio > 0) {
			t.Errorf("%s: recording audio %d bytes on the emulator, %d on the real node", name, e.audio, r.audio)
		}
		if !within(e.duration, r.duration, 2) || !within(e.talk, r.talk, 2) {
			t.Errorf("%s: duration %d/%d s, talk %d/%d s (emulator/real node)", name, e.duration, r.duration, e.talk, r.talk)
		}
	}
}

// mainJob is what the main job's two calls left, as the API tells it.
type mainJob struct{ calls [2]callRecord }

type callRecord struct {
	status         string
	legs           []string // leg statuses, sorted (a parallel race may go either way)
	duration, talk int
	audio          int // bytes of the recording past its WAV header
}

func within(a, b, slack int) bool { return a-b <= slack && b-a <= slack }

var callSidLine = regexp.MustCompile(`CallSid: ([0-9a-f]{32})`)

// runMainJob places the two calls on the node at esl and reads them back.
func runMainJob(t *testing.T, s *server, esl, password string) mainJob {
	t.Helper()
	var job mainJob
	// A caller presses 3 for sales (two agents rung in turn; the first
	// answers) and hangs up 12 s after the call is answered. (Technical
	// support rings two agents who answer at the same moment: which one
	// wins, and whether the other answered first, is a race on a node.)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"sim", "call", "--to", demoPhone, "--digits", "3",
		"--hangup-after", "12s", "--fs", esl, "--fs-password", password, "--timeout", "1m"}, &out, &errOut)
	m := callSidLine.FindStringSubmatch(out.String())
	if code != 0 || m == nil {
		t.Fatalf("sim call: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	s.waitEnded(m[1])
	job.calls[0] = s.record(m[1])

	// Click-to-call, recorded: the agent answers, then the customer, who
	// talks 5 s.
	c := s.connect(url.Values{"From": {"+15550100001"}, "To": {"+15550100405"}, "CallerId": {demoPhone}, "Record": {"true"}})
	s.waitEnded(c.Sid)
	job.calls[1] = s.record(c.Sid)
	if r := job.calls[1]; r.audio < 4*16000 {
		t.Errorf("click-to-call: the recording holds %d bytes of audio, want the 5 s conversation", r.audio)
	}
	return job
}

// record reads a call's record, its legs and its recording over the API.
func (s *server) record(sid string) callRecord {
	s.t.Helper()
	c := s.details(sid)
	r := callRecord{status: c.Status}
	if c.Duration != nil {
		r.duration, _ = strconv.Atoi(*c.Duration)
	}
	if c.Details != nil {
		r.talk = c.Details.ConversationDuration
	}
	var legs struct {
		Response struct {
			LegDetails struct{ From, To []legView } `json:"leg_details"`
		}
	}
	s.getJSON("/v3/accounts/"+demoAccount+"/calls/"+sid+"/legs", &legs)
	for _, l := range append(legs.Response.LegDetails.From, legs.Response.LegDetails.To...) {
		r.legs = append(r.legs, l.Status)
	}
	sort.Strings(r.legs)
	if c.RecordingUrl == nil {
		return r
	}
	u, err := url.Parse(*c.RecordingUrl)
	if err != nil {
		s.t.Fatal(err)
	}
	code, body, _ := s.do("GET", u.RequestURI(), nil)
	if code != http.StatusOK || !bytes.HasPrefix(body, []byte("RIFF")) {
		s.t.Errorf("call %s: recording %s: %d, %d bytes", sid, u.RequestURI(), code, len(body))
		return r
	}
	r.audio = len(body) - 44
	return r
}
