package esl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// dialFake connects an inbound Conn to a fresh fake node and returns both
// ends.
func dialFake(t *testing.T) (*Conn, *peer) {
	t.Helper()
	srv := newInboundServer(t)
	c, err := DialInbound(context.Background(), srv.addr(), "ClueCon", discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, <-srv.conns
}

// Hazard: eslgo matches replies by arrival order on a shared channel, so
// concurrent commands can swap replies. Conn serialises round trips.
func TestConcurrentCommandsGetTheirOwnReplies(t *testing.T) {
	c, p := dialFake(t)
	go func() {
		for {
			cmd, err := p.read()
			if err != nil {
				return
			}
			// api echo N -> N; answer only after the next command could
			// have been written, which is what lets replies swap.
			p.api(strings.TrimPrefix(cmd.Line, "api echo ") + "\n")
		}
	}()
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got, err := c.API(context.Background(), fmt.Sprintf("echo %d", i))
			if err != nil {
				errs <- err
				return
			}
			if got != fmt.Sprint(i) {
				errs <- fmt.Errorf("command %d got reply %q", i, got)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Hazard: a reply that arrives after its command timed out would be handed
// to the next command. Conn closes the connection instead.
func TestLateReplyPoisonsTheConnection(t *testing.T) {
	c, p := dialFake(t)
	slow := make(chan struct{})
	go func() {
		p.mustRead() // the command that will time out
		<-slow
		p.api("+OK late\n")
		for {
			if _, err := p.read(); err != nil {
				return
			}
			p.api("+OK fresh\n")
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.API(ctx, "status")
	if !errors.Is(err, ErrPoisoned) {
		t.Fatalf("timed-out command: err = %v, want ErrPoisoned", err)
	}
	close(slow)
	<-c.Done()
	if _, err := c.API(context.Background(), "status"); err == nil {
		t.Fatal("a command after the poisoning succeeded: it could have read the late reply")
	}
	if !errors.Is(c.Err(), ErrPoisoned) {
		t.Errorf("Err() = %v", c.Err())
	}
}

// A command given up on before it is written (its context ended while
// it waited for the connection, or before it was sent) owes no reply:
// the connection stays, and the next command gets its own.
func TestCommandGivenUpBeforeItIsWrittenLeavesTheConnection(t *testing.T) {
	c, p := dialFake(t)
	go func() {
		for {
			if _, err := p.read(); err != nil {
				return
			}
			p.api("+OK fresh\n")
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.API(ctx, "status"); !errors.Is(err, context.Canceled) || errors.Is(err, ErrPoisoned) {
		t.Fatalf("a command sent with its context over: err = %v, want context.Canceled", err)
	}
	select {
	case <-c.Done():
		t.Fatalf("the connection closed: %v", c.Err())
	default:
	}
	if out, err := c.API(context.Background(), "status"); err != nil || out != "+OK fresh" {
		t.Fatalf("the next command: %q, %v", out, err)
	}
}

// Hazard: bgapi results come as events; without our own Job-UUID,
// registered before sending, they cannot be matched to the request.
func TestBgAPIMatchesJobsByOurJobUUID(t *testing.T) {
	c, p := dialFake(t)
	jobs := make(chan string, 2)
	go func() {
		for i := 0; i < 2; i++ {
			cmd := p.mustRead()
			id := cmd.Headers["Job-UUID"]
			p.write("Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + id + "\nJob-UUID: " + id + "\n\n")
			jobs <- id + " " + strings.TrimPrefix(cmd.Line, "bgapi ")
		}
		// Finish them in reverse order.
		a, b := <-jobs, <-jobs
		for _, j := range []string{b, a} {
			id, what, _ := strings.Cut(j, " ")
			p.event(map[string]string{"Event-Name": "BACKGROUND_JOB", "Job-UUID": id, "Job-Command": what}, "+OK "+what+"\n")
		}
	}()
	first, err := c.BgAPI(context.Background(), "originate one")
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.BgAPI(context.Background(), "originate two")
	if err != nil {
		t.Fatal(err)
	}
	for want, ch := range map[string]<-chan Job{"originate one": first, "originate two": second} {
		job := <-ch
		if got, err := job.Result(); err != nil || got != want {
			t.Errorf("job for %q = %q, %v", want, got, err)
		}
	}
}

func TestBgAPIFailsWhenTheConnectionDrops(t *testing.T) {
	c, p := dialFake(t)
	go func() {
		cmd := p.mustRead()
		p.write("Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + cmd.Headers["Job-UUID"] + "\n\n")
	}()
	ch, err := c.BgAPI(context.Background(), "originate x")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if job, ok := <-ch; ok {
		t.Errorf("got a job from a closed connection: %+v", job)
	}
}

// Hazard: eslgo parses plain events with net/textproto, which rejects
// header names FreeSWITCH allows, and drops the whole event. JSON events
// are decoded here and keep every header.
func TestOddHeaderNamesDoNotLoseEvents(t *testing.T) {
	c, p := dialFake(t)
	got := make(chan Event, 2)
	c.Route("u1", func(ev Event) { got <- ev })
	p.plainEvent("Event-Name: CHANNEL_ANSWER", "Unique-ID: u1", "variable_fish,(sticks)~_1: yes")
	p.event(map[string]string{"Event-Name": "CHANNEL_HANGUP", "Unique-ID": "u1", "variable_fish,(sticks)~_1": "yes", "Event-Sequence": "7"}, "")
	ev := <-got
	if ev.Name() != "CHANNEL_HANGUP" || ev.Var("fish,(sticks)~_1") != "yes" || ev.Seq() != 7 {
		t.Errorf("json event = %+v", ev.All())
	}
	select {
	case ev := <-got:
		t.Errorf("the plain event with an odd header arrived too: %v (so plain would be safe after all)", ev.Name())
	default:
	}
}

func TestExecuteWireFormat(t *testing.T) {
	c, p := dialFake(t)
	type sent struct {
		cmd cmd
	}
	got := make(chan sent, 3)
	go func() {
		for i := 0; i < 3; i++ {
			cmd := p.mustRead()
			p.reply("+OK")
			got <- sent{cmd}
		}
	}()
	appUUID, err := c.Execute(context.Background(), "chan-1", "playback", "/sounds/hello.wav")
	if err != nil {
		t.Fatal(err)
	}
	s := <-got
	want := map[string]string{"call-command": "execute", "execute-app-name": "playback",
		"execute-app-arg": "/sounds/hello.wav", "event-lock": "true", "Event-UUID": appUUID}
	if s.cmd.Line != "sendmsg chan-1" {
		t.Errorf("line = %q", s.cmd.Line)
	}
	for k, v := range want {
		if s.cmd.Headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, s.cmd.Headers[k], v)
		}
	}
	// Arguments with line breaks travel in a body.
	long := "line one\nline two"
	if _, err := c.Execute(context.Background(), "chan-1", "speak", long); err != nil {
		t.Fatal(err)
	}
	s = <-got
	if s.cmd.Body != long || s.cmd.Headers["execute-app-arg"] != "" || s.cmd.Headers["Content-Type"] != "text/plain" {
		t.Errorf("body form = %+v", s.cmd)
	}
	// So do arguments longer than a body's own headers: the node reads a
	// body at once, headers a byte at a time.
	dial := "{ignore_early_media=true}[leg_timeout=30]sofia/gateway/carrier/+15550001234"
	if _, err := c.Execute(context.Background(), "chan-1", "bridge", dial); err != nil {
		t.Fatal(err)
	}
	s = <-got
	if s.cmd.Body != dial || s.cmd.Headers["execute-app-arg"] != "" || s.cmd.Headers["Content-Length"] != strconv.Itoa(len(dial)) {
		t.Errorf("long argument = %+v", s.cmd)
	}
}

func TestErrReplyIsAnError(t *testing.T) {
	c, p := dialFake(t)
	go func() {
		p.mustRead()
		p.api("-ERR No such channel!\n")
		p.mustRead()
		p.api("-ERR no_such_command Command not found!\n")
	}()
	if err := c.Kill(context.Background(), "gone", "NORMAL_CLEARING"); err != nil {
		t.Errorf("killing a channel that is already gone: %v", err)
	}
	if _, err := c.API(context.Background(), "no_such_command"); !errors.Is(err, ErrCommand) {
		t.Errorf("err = %v", err)
	}
}

func TestParsePlain(t *testing.T) {
	ev, err := ParsePlain([]byte("Event-Name: DTMF\nDTMF-Digit: %23\nvariable_x%2Cy: a%20b\nweird line\nContent-Length: 3\n\nabcdef"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Get("DTMF-Digit") != "#" || ev.Get("dtmf-digit") != "#" || ev.Body != "abc" || ev.Get("variable_x%2Cy") != "a b" {
		t.Errorf("event = %+v body %q", ev.All(), ev.Body)
	}
	if _, err := ParsePlain([]byte("Content-Length: 10\n\nabc")); err == nil {
		t.Error("short body accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("Event-Name: CHANNEL_ANSWER\nUnique-ID: x\n\n"))
	f.Add([]byte(`{"Event-Name":"BACKGROUND_JOB","Job-UUID":"j","_body":"+OK x\n","arr":["a","b"],"n":5}`))
	f.Add([]byte("Content-Length: -1\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if ev, err := ParsePlain(b); err == nil {
			_ = ev.Name() + ev.UniqueID()
			_ = ev.Seq()
		}
		if ev, err := ParseJSON(b); err == nil {
			_ = ev.Get("x")
		}
	})
}

// TestArrayVariablesReadAlike: event-json sends a multi-valued variable as
// an array (as FreeSWITCH 1.10 does for originate_causes), event-plain as
// "ARRAY::a|:b"; both decode to the plain form.
func TestArrayVariablesReadAlike(t *testing.T) {
	js, err := ParseJSON([]byte(`{"Event-Name":"CHANNEL_EXECUTE_COMPLETE","variable_originate_causes":["u1;NONE","u2;LOSE_RACE"]}`))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ParsePlain([]byte("Event-Name: CHANNEL_EXECUTE_COMPLETE\nvariable_originate_causes: ARRAY::u1%3BNONE|:u2%3BLOSE_RACE\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	const want = "ARRAY::u1;NONE|:u2;LOSE_RACE"
	if got := js.Var("originate_causes"); got != want {
		t.Errorf("json: %q, want %q", got, want)
	}
	if got := plain.Var("originate_causes"); got != want {
		t.Errorf("plain: %q, want %q", got, want)
	}
}

func TestNewAppIDIsShortAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewAppID()
		if len(id) > 12 || seen[id] {
			t.Fatalf("id %q: longer than 12 bytes or seen before", id)
		}
		seen[id] = true
	}
}

// eslgo ends a message in CRLF CRLF, so an inbound command's header lines
// must end in CRLF too: FreeSWITCH cuts each line at the next CR.
func TestInboundCommandsEndTheirLinesInCRLF(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"api status", "api status"},
		{"bgapi status\nJob-UUID: j1", "bgapi status\r\nJob-UUID: j1"},
		{executeMsg("u1", "speak", "one\ntwo", "a.1", true),
			"sendmsg u1\r\ncall-command: execute\r\nexecute-app-name: speak\r\nevent-lock: true\r\nEvent-UUID: a.1\r\n" +
				"Content-Type: text/plain\r\nContent-Length: 7\r\n\r\none\ntwo"},
	} {
		if got := rawCommand(tc.msg).BuildMessage(); got != tc.want {
			t.Errorf("BuildMessage(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

// A command holding a NUL is refused before it is written, whatever sends
// it; and eslgo's inbound connections cannot post.
func TestCommandsWithNULAndPostingOverEslgoAreRefused(t *testing.T) {
	c, _ := dialFake(t)
	bad := "api status\x00exit"
	if _, err := c.Send(context.Background(), bad); !errors.Is(err, ErrCommand) {
		t.Errorf("Send: %v", err)
	}
	if _, err := c.Pipeline(context.Background(), []string{"api status", bad}); !errors.Is(err, ErrCommand) {
		t.Errorf("Pipeline: %v", err)
	}
	if err := c.Post([]string{bad}, func([]Reply) { t.Error("posted") }); !errors.Is(err, ErrCommand) {
		t.Errorf("Post with a NUL: %v", err)
	}
	if err := c.Post([]string{"api status"}, func([]Reply) { t.Error("posted") }); !errors.Is(err, ErrCommand) {
		t.Errorf("Post over eslgo: %v", err)
	}
	select {
	case <-c.Done():
		t.Fatal("a refused command closed the connection")
	default:
	}
}

// A connection over eslgo subscribes in JSON: eslgo parses a plain event
// with net/textproto and drops it whole on a header name textproto
// rejects. Serve's own connections take plain (TestNodeWantCountsHolders).
func TestInboundOverEslgoSubscribesInJSON(t *testing.T) {
	c, p := dialFake(t)
	done := make(chan error, 1)
	go func() { done <- c.Subscribe(t.Context(), "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE") }()
	if got := p.mustRead().Line; got != "event json CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE" {
		t.Errorf("subscribed with %q", got)
	}
	p.reply("+OK event listener enabled json")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
