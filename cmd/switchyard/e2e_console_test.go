package main

// The web console in headless Chromium, driven over the DevTools
// protocol (chromedp): `switchyard serve` with the demo tenant on the
// emulator, a real browser signing in, watching a call live, reading the
// log, playing a recording, pausing a campaign, at a desktop and a phone
// size, with screenshots of every page kept as test artefacts. Any
// console error or uncaught exception in the browser fails the test.

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/switchyard/switchyard/orchestrator/demo"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// chromium finds the browser: SWITCHYARD_CHROMIUM, else the first of
// chromium, chromium-browser and google-chrome on PATH ("" when none).
func chromium() string {
	if p := os.Getenv("SWITCHYARD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artefacts is the folder screenshots go to: SWITCHYARD_ARTEFACTS, else
// .artefacts/console at the module's root.
func artefacts(t *testing.T) string {
	dir := os.Getenv("SWITCHYARD_ARTEFACTS")
	if dir == "" {
		root, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(root)
			if parent == root {
				t.Fatal("no go.mod above the test's folder")
			}
			root = parent
		}
		dir = filepath.Join(root, ".artefacts", "console")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserErrors collects what the page reports as errors: console.error
// calls, uncaught exceptions, and the browser's own error entries (a
// resource that failed to load, a Content-Security-Policy violation).
type browserErrors struct {
	mu   sync.Mutex
	seen []string
}

func (b *browserErrors) listen(t *testing.T, ctx context.Context) {
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, strings.TrimSpace(string(a.Value)+" "+a.Description))
				}
				b.add("console." + string(ev.Type) + ": " + strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.add(fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				b.add(fmt.Sprintf("%s error: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	})
	if err != nil {
		t.Fatalf("listen to the browser: %v", err)
	}
}

func (b *browserErrors) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen = append(b.seen, s)
}

// check fails the test if the browser reported any error so far.
func (b *browserErrors) check(t *testing.T, where string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.seen {
		t.Errorf("%s: the browser reported: %s", where, s)
	}
	b.seen = nil
}

// viewport is a screen size the pages are checked at.
type viewport struct {
	name          string
	width, height int64
}

var consoleViewports = []viewport{{"desktop", 1280, 800}, {"phone", 390, 844}}

// consoleBrowser is one headless Chromium tab on a running serve.
type consoleBrowser struct {
	t      *testing.T
	ctx    context.Context
	base   string
	shots  string
	errors *browserErrors
}

// do runs actions, failing the test with what when they fail.
func (b *consoleBrowser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// loading runs an action that makes the page navigate (a click, a key)
// and waits until the new page has loaded.
func (b *consoleBrowser) loading(what string, action chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, action)); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// waitJS waits until the expression is true in the page.
func (b *consoleBrowser) waitJS(what, expr string) {
	b.t.Helper()
	b.do(what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second)))
}

// evalJS evaluates an expression in the page.
func evalJS[T any](b *consoleBrowser, expr string, opts ...chromedp.EvaluateOption) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// open navigates to a console path and waits for its heading.
func (b *consoleBrowser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
}

// at sets the viewport.
// playRecording plays the page's recording until it has loaded, then
// pauses it: whether it played, and its length in seconds.
func (b *consoleBrowser) playRecording() (played bool, seconds float64) {
	played = evalJS[bool](b, `document.querySelector("audio").play().then(() => true)`, chromedp.EvalAwaitPromise)
	b.waitJS("the recording loaded", `(() => { const a = document.querySelector("audio");
		return a.error === null && a.readyState >= 2 && a.duration > 0; })()`)
	seconds = evalJS[float64](b, `document.querySelector("audio").duration`)
	evalJS[chromedp.Void](b, `document.querySelector("audio").pause()`)
	return played, seconds
}

func (b *consoleBrowser) at(v viewport) {
	b.t.Helper()
	b.do("viewport "+v.name, chromedp.EmulateViewport(v.width, v.height))
}

// shoot checks the page fits the viewport's width (tables scroll inside
// their own box) and saves a full-page screenshot.
func (b *consoleBrowser) shoot(name string, v viewport) {
	b.t.Helper()
	if evalJS[bool](b, `document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`) {
		b.t.Errorf("%s at %s: the page is wider than the screen", name, v.name)
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	file := filepath.Join(b.shots, fmt.Sprintf("%s-%s-%dx%d.png", name, v.name, v.width, v.height))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// newConsoleBrowser starts a headless Chromium (exe) with one tab on the
// console at base, listening for the errors its pages report; the
// browser stops with the test. ctx bounds the test's work.
func newConsoleBrowser(t *testing.T, exe, base string) (context.Context, *consoleBrowser) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe),
		chromedp.WindowSize(1280, 800), chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium's sandbox cannot run as root
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	b := &consoleBrowser{t: t, ctx: tabCtx, base: base, shots: artefacts(t), errors: &browserErrors{}}
	b.errors.listen(t, tabCtx)
	return ctx, b
}

// tab opens another tab of the same browser (its cookies too), with its
// own error listener.
func (b *consoleBrowser) tab() *consoleBrowser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	other := &consoleBrowser{t: b.t, ctx: ctx, base: b.base, shots: b.shots, errors: &browserErrors{}}
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open a tab: %v", err)
	}
	other.errors.listen(b.t, ctx)
	return other
}

// signIn signs in as the demo account from the login page.
func (b *consoleBrowser) signIn() {
	b.t.Helper()
	b.open("/console/login")
	b.do("fill in the login", chromedp.SendKeys(chromedp.ID("key"), demo.APIKey),
		chromedp.SendKeys(chromedp.ID("token"), demo.APIToken))
	b.loading("sign in", chromedp.Click(chromedp.CSS(`form.login button[type="submit"]`)))
	b.waitJS("the call log after signing in", `location.pathname === "/console/calls" && document.querySelector("main h1") !== null`)
	b.errors.check(b.t, "sign in")
}

// TestConsoleInBrowser: sign in; a recorded click-to-call and a
// simulated inbound call; the inbound call in the live view while it is
// up (pushed over Server-Sent Events, no reload) and in the log after;
// the log by keyboard; the click-to-call's recording played in its
// page; a campaign paused and resumed; every page at 1280×800 and
// 390×844, screenshotted.
func TestConsoleInBrowser(t *testing.T) {
	exe := chromium()
	if exe == "" {
		t.Skip("no Chromium: install Debian's chromium package, or set SWITCHYARD_CHROMIUM to a Chrome or Chromium binary")
	}
	started := time.Now()
	s := startServe(t, storetest.SQLiteDSN(t))

	// Campaigns: one that runs to its end (for the plot), one waiting
	// for tomorrow (to pause and resume).
	hooks := newCampaignHooks(t)
	flowURL := s.campaignFlowURL()
	done := s.v2("POST", "/v2/accounts/demo/campaigns", fmt.Sprintf(`{"campaigns": [{"name": "Console reminders",
		"caller_id": %q, "url": %q, "from": ["+15550100001", "+15550100002", "+15550100101"], "throttle": 60,
		"calling_window": {"start": "00:00", "end": "24:00"}, "status_callback": %q}]}`, demoPhone, flowURL, hooks.url))["id"].(string)
	hooks.waitCampaignEnd(t, 60*time.Second)
	var agent struct {
		SID string `json:"sid"`
	}
	agentsPost(s, "/v2/accounts/demo/users", `{"name": "Asha Rao", "email": "asha@acme.example",
		"devices": ["+15550100430", "sip:asha@pbx.acme.example"]}`, "user", &agent)
	later := s.v2("POST", "/v2/accounts/demo/campaigns", fmt.Sprintf(`{"campaigns": [{"name": "Tomorrow's reminders",
		"caller_id": %q, "url": %q, "from": ["+15550100003"], "schedule": {"send_at": %q}}]}`,
		demoPhone, flowURL, time.Now().Add(24*time.Hour).Format(time.RFC3339)))["id"].(string)

	ctx, b := newConsoleBrowser(t, exe, s.base)
	defer b.errors.check(t, "the end")

	// Signed out, the console asks for a key and token.
	for _, v := range consoleViewports {
		b.at(v)
		b.open("/console/")
		b.waitJS("the login page", `location.pathname === "/console/login"`)
		b.shoot("login", v)
	}
	b.at(consoleViewports[0])
	b.signIn()

	// The live view, connected to its stream; a marker that a reload
	// would wipe.
	b.open("/console/calls/live")
	b.waitJS("the live stream", `document.getElementById("live-status").textContent.startsWith("Live")`)
	evalJS[chromedp.Void](b, `window.__notReloaded = true`)

	// A simulated caller presses 1: the tech team answers, and the call
	// stays up, recorded, until the caller hangs up.
	const caller = "+15550109301"
	hangUp := make(chan struct{})
	inbound := make(chan *testphone.Result, 1)
	go func() {
		res, err := testphone.New(s.esl, "ClueCon").Call(ctx, testphone.Script{From: caller, To: demoPhone,
			Digits: testphone.ParseDigits("1"), Hangup: hangUp})
		if err != nil {
			t.Errorf("simulated call: %v", err)
		}
		inbound <- res
	}()
	rowOf := func(number string) string {
		return `Array.from(document.querySelectorAll("#live-calls tbody tr")).find(tr => tr.textContent.includes("` + number + `"))`
	}
	b.waitJS("the inbound call in the live view", rowOf(caller)+` !== undefined && window.__notReloaded === true`)
	liveSID := evalJS[string](b, rowOf(caller)+`.dataset.sid`)
	b.shoot("live", consoleViewports[0])
	b.at(consoleViewports[1])
	b.shoot("live", consoleViewports[1])
	b.at(consoleViewports[0])

	// A recorded click-to-call through the API, while the inbound call
	// is up; then the caller hangs up and the call leaves the live view.
	c2c := s.connect(url.Values{"From": {"+15550100003"}, "To": {"+15550100405"}, "CallerId": {demoPhone}, "Record": {"true"}})
	s.waitEnded(c2c.Sid)
	close(hangUp)
	res := <-inbound
	if res == nil || res.CallSid != liveSID {
		t.Fatalf("the live view showed call %s; the simulated call was %+v", liveSID, res)
	}
	s.waitEnded(liveSID)
	b.waitJS("the ended call leaving the live view", rowOf(caller)+` === undefined && window.__notReloaded === true`)
	b.errors.check(t, "live view")

	// Both calls in the log, reached by keyboard: Tab goes through the
	// skip link, the navigation and the filters to the first call, and
	// Enter opens it.
	b.open("/console/calls")
	for _, sid := range []string{liveSID, c2c.Sid} {
		b.waitJS("call "+sid+" in the log", `document.querySelector('a[href="/console/calls/`+sid+`"]') !== null`)
	}
	firstCall := evalJS[string](b, `document.querySelector("table.data tbody a").getAttribute("href")`)
	var reachedFilter, reachedCall bool
	for range 40 {
		b.do("tab", chromedp.KeyEvent(kb.Tab))
		focus := evalJS[struct{ ID, Href, Outline string }](b, `(() => { const a = document.activeElement;
			return {ID: a.id, Href: a.getAttribute("href") || "", Outline: getComputedStyle(a).outlineStyle}; })()`)
		if focus.Outline == "none" || focus.Outline == "" {
			t.Errorf("the focused element %+v has no visible focus", focus)
		}
		reachedFilter = reachedFilter || focus.ID == "f-status"
		if focus.Href == firstCall {
			reachedCall = true
			break
		}
	}
	if !reachedFilter || !reachedCall {
		t.Fatalf("Tab reached the status filter: %v, the first call (%s): %v", reachedFilter, firstCall, reachedCall)
	}
	b.loading("Enter on the first call", chromedp.KeyEvent(kb.Enter))
	b.waitJS("the first call's page", `location.pathname === "`+firstCall+`" && document.querySelector("main h1") !== null`)
	for _, v := range consoleViewports {
		b.at(v)
		b.open("/console/calls")
		b.shoot("calls", v)
	}
	b.errors.check(t, "call log")

	// The click-to-call's page: legs on the timeline, and its recording
	// plays.
	b.at(consoleViewports[0])
	b.open("/console/calls/" + c2c.Sid)
	b.waitJS("the timeline", `document.querySelectorAll("table.timeline tbody tr").length >= 3`)
	played, duration := b.playRecording()
	t.Logf("recording of %s: %.1f s, played: %v", c2c.Sid, duration, played)
	for _, v := range consoleViewports {
		b.at(v)
		b.shoot("call", v)
	}
	b.errors.check(t, "call page")

	// The campaign waiting for tomorrow, paused and resumed from its page.
	b.at(consoleViewports[0])
	b.open("/console/campaigns/" + later)
	b.loading("pause", chromedp.Click(chromedp.CSS(`form[action$="/pause"] button`)))
	b.waitJS("paused", `document.querySelector(".notice") !== null && document.querySelector('form[action$="/resume"]') !== null`)
	if st := s.v2("GET", "/v2/accounts/demo/campaigns/"+later, ""); st["status"] != "Paused" {
		t.Errorf("after pause in the console: %v", st["status"])
	}
	b.loading("resume", chromedp.Click(chromedp.CSS(`form[action$="/resume"] button`)))
	b.waitJS("resumed", `document.querySelector('form[action$="/pause"]') !== null`)
	b.errors.check(t, "campaign actions")

	// Every other page, at both sizes.
	pages := []struct{ name, path, ready string }{
		{"agents", "/console/agents", `document.body.textContent.includes("Asha Rao")`},
		{"campaigns", "/console/campaigns", `document.querySelectorAll("table.data tbody tr").length >= 2`},
		{"campaign", "/console/campaigns/" + done, `document.querySelectorAll(".plot rect.placed").length > 0`},
		{"campaign-scheduled", "/console/campaigns/" + later, `document.querySelector('form[action$="/pause"]') !== null`},
		{"flows", "/console/flows", `document.querySelectorAll("table.data tbody tr").length >= 4`},
	}
	for _, pg := range pages {
		for _, v := range consoleViewports {
			b.at(v)
			b.open(pg.path)
			b.waitJS(pg.name, pg.ready)
			b.shoot(pg.name, v)
		}
		b.errors.check(t, pg.name)
	}

	// Sign out.
	b.at(consoleViewports[0])
	b.open("/console/calls")
	b.loading("sign out", chromedp.Click(chromedp.CSS(`form.signout button`)))
	b.waitJS("signed out", `location.pathname === "/console/login"`)
	b.open("/console/agents")
	b.waitJS("the login again", `location.pathname === "/console/login"`)
	t.Logf("console browser test: %s; screenshots in %s", time.Since(started).Round(time.Millisecond), b.shots)
}
