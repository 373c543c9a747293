package main

// The flow builder in a real browser against a real serve: a flow built
// on the canvas (an applet added from the palette, configured in its
// form, connected by dragging its output onto the other), saved,
// published and assigned to an ExoPhone; a test call placed from the
// builder, seen in the live view while it is up and in the log after,
// its path lit on the canvas and listed on its page, its recording
// played; the version's changes; every page at a desktop and a phone
// size.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// point is a spot on the page, in CSS pixels.
type point struct{ X, Y float64 }

// centre is the middle of the first element matching the selector.
func (b *consoleBrowser) centre(selector string) point {
	b.t.Helper()
	return evalJS[point](b, `(() => { const r = document.querySelector(`+jsString(selector)+`).getBoundingClientRect();
		return {X: r.left + r.width / 2, Y: r.top + r.height / 2}; })()`)
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }

// drag presses the mouse at from, moves it to to in steps, and lets go.
func (b *consoleBrowser) drag(what string, from, to point) {
	b.t.Helper()
	held := func(p *input.DispatchMouseEventParams) {
		p.Button, p.Buttons, p.ClickCount = input.MouseButtonLeft, 1, 1
	}
	actions := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, from.X, from.Y, held)}
	for i := 1; i <= 5; i++ {
		x := from.X + (to.X-from.X)*float64(i)/5
		y := from.Y + (to.Y-from.Y)*float64(i)/5
		actions = append(actions, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y, held))
	}
	actions = append(actions, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, to.X, to.Y, chromedp.ButtonLeft))
	b.do(what, actions...)
}

func TestConsoleFlowBuilderInBrowser(t *testing.T) {
	exe := chromium()
	if exe == "" {
		t.Skip("no Chromium: install Debian's chromium package, or set SWITCHYARD_CHROMIUM to a Chrome or Chromium binary")
	}
	// A slower emulator clock than other tests: the test caller stays on
	// the line 30 s of the node's time after it is answered, 6 s here,
	// long enough to be seen in the live view (read every second).
	s := startServe(t, storetest.SQLiteDSN(t), func(c *Config) { c.emulatorSpeed = 5 })
	const phone, caller = "+15550000190", "+15550109444"
	if code, resp, _ := s.do("POST", "/v2/accounts/demo/exophones", `{"number": "`+phone+`", "friendly_name": "Builder line"}`); code != http.StatusCreated {
		t.Fatalf("create ExoPhone: %d %s", code, resp)
	}
	_, b := newConsoleBrowser(t, exe, s.base)
	defer b.errors.check(t, "the end")
	b.at(consoleViewports[0])
	b.signIn()

	// A new flow from the flows page opens in the builder with one
	// greeting.
	b.open("/console/flows")
	b.do("name the flow", chromedp.SendKeys(chromedp.ID("new-flow-name"), "Builder line"))
	b.loading("create the flow", chromedp.Click(chromedp.CSS(`form[action="/console/flows"] button`)))
	b.waitJS("the builder", `document.getElementById("builder") && document.getElementById("builder").dataset.ready === "true" &&
		document.querySelectorAll("#canvas g.node").length === 1`)
	flowID := evalJS[string](b, `JSON.parse(document.getElementById("builder").dataset.boot).flow.id`)

	// A voicemail from the palette, configured in its form.
	b.do("add a voicemail", chromedp.Click(chromedp.CSS(`#palette button[data-type="voicemail"]`)))
	b.waitJS("the voicemail's form", `document.querySelectorAll("#canvas g.node").length === 2 &&
		document.querySelector('#inspector-body textarea[name="prompt.text"]') !== null`)
	b.do("configure the voicemail",
		chromedp.SendKeys(chromedp.CSS(`#inspector-body input[name="applet-name"]`), "Message"),
		chromedp.SendKeys(chromedp.CSS(`#inspector-body textarea[name="prompt.text"]`), "Leave a message after the tone."),
		chromedp.SendKeys(chromedp.CSS(`#inspector-body input[name="max_length"]`), "20"))

	// A bound broken on purpose shows on the field and on the node, and
	// mending it clears both.
	b.do("a bad ring", chromedp.SendKeys(chromedp.CSS(`#inspector-body input[name="max_length"]`), "0000"))
	b.waitJS("the error on the node", `document.querySelector('#canvas g.node[data-id="voicemail_1"]').classList.contains("has-error") &&
		document.getElementById("builder").dataset.valid === "false"`)
	b.do("mend it", chromedp.SendKeys(chromedp.CSS(`#inspector-body input[name="max_length"]`), strings.Repeat(kb.Backspace, 4)))
	b.waitJS("no error", `!document.querySelector('#canvas g.node[data-id="voicemail_1"]').classList.contains("has-error") &&
		document.getElementById("builder").dataset.valid === "true"`)

	// The greeting's output dragged onto the voicemail connects them.
	port := `#canvas g.node[data-id="welcome"] circle.port[data-output="next"]`
	b.drag("connect welcome to the voicemail", b.centre(port), b.centre(`#canvas g.node[data-id="voicemail_1"] rect.node-box`))
	b.waitJS("the edge", `document.querySelector('#canvas path.edge[data-from="welcome"][data-to="voicemail_1"]') !== null`)
	// The same connection, in the greeting's form (reached by keyboard:
	// the node takes focus and Enter opens its form).
	evalJS[chromedp.Void](b, `document.querySelector('#canvas g.node[data-id="welcome"]').focus()`)
	b.do("open the greeting's form", chromedp.KeyEvent(kb.Enter))
	b.waitJS("the greeting's next", `(() => { const s = document.querySelector('#inspector-body select[data-output="next"]');
		return s !== null && s.value === "voicemail_1"; })()`)
	for _, v := range consoleViewports {
		b.at(v)
		b.shoot("builder", v)
	}
	b.at(consoleViewports[0])
	b.errors.check(t, "building")

	// Saved, published (the page reloads with its version), assigned.
	b.do("save", chromedp.Click(chromedp.ID("save")))
	b.waitJS("saved", `document.getElementById("builder").dataset.saved !== undefined`)
	b.loading("publish", chromedp.Click(chromedp.ID("publish")))
	b.waitJS("published", `location.search === "?published=1" && document.querySelector(".notice") !== null &&
		document.querySelectorAll("#versions tbody tr").length === 1`)
	row := `#exophones tr[data-number="` + phone + `"]`
	b.do("assign the ExoPhone", chromedp.Click(chromedp.CSS(row+` button`)))
	b.waitJS("assigned", `document.querySelector(`+jsString(row+` .runs`)+`).textContent === "this flow" &&
		document.getElementById("test-to").value === `+jsString(phone))
	if code, got, _ := s.do("GET", "/v2/accounts/demo/exophones/"+phone, ""); code != http.StatusOK || !strings.Contains(string(got), `"flow_id":"`+flowID+`"`) {
		t.Fatalf("the ExoPhone after assigning it in the builder: %d %s", code, got)
	}

	// A test call from the builder, seen in the live view in another tab.
	live := b.tab()
	live.open("/console/calls/live")
	live.waitJS("the live stream", `document.getElementById("live-status").textContent.startsWith("Live")`)
	b.do("the caller", chromedp.Clear(chromedp.ID("test-from")), chromedp.SendKeys(chromedp.ID("test-from"), caller))
	b.do("place the test call", chromedp.Click(chromedp.ID("test-run")))
	inLive := `Array.from(document.querySelectorAll("#live-calls tbody tr")).find(tr => tr.textContent.includes("` + caller + `"))`
	live.waitJS("the test call in the live view", inLive+` !== undefined`)
	sid := evalJS[string](live, inLive+`.dataset.sid`)
	live.shoot("builder-test-live", consoleViewports[0])
	live.errors.check(t, "live view")

	// Its path lit on the canvas, in order.
	b.waitJS("the test's result", `document.getElementById("builder").dataset.tested === `+jsString(sid))
	lit := evalJS[[]string](b, `Array.from(document.querySelectorAll("#canvas g.node.on-path")).map(g => g.dataset.id).sort()`)
	if strings.Join(lit, ",") != "voicemail_1,welcome" {
		t.Errorf("the nodes lit by the test call: %v", lit)
	}
	if n := evalJS[int](b, `document.querySelectorAll('#canvas path.edge.on-path[data-from="welcome"][data-to="voicemail_1"]').length`); n != 1 {
		t.Errorf("the edge the call took is not lit (%d)", n)
	}
	for _, v := range consoleViewports {
		b.at(v)
		b.shoot("builder-tested", v)
	}
	b.at(consoleViewports[0])
	b.errors.check(t, "test call")

	// In the log, and on its page: the applet path and the voicemail's
	// recording, which plays.
	s.waitEnded(sid)
	b.open("/console/calls")
	b.waitJS("the test call in the log", `document.querySelector('a[href="/console/calls/`+sid+`"]') !== null`)
	b.loading("open the call", chromedp.Click(chromedp.CSS(`a[href="/console/calls/`+sid+`"]`)))
	b.waitJS("the call's applet path", `document.body.textContent.includes("voicemail_1") && document.body.textContent.includes("welcome")`)
	if played, _ := b.playRecording(); !played {
		t.Error("the voicemail did not play")
	}
	for _, v := range consoleViewports {
		b.at(v)
		b.shoot("builder-call", v)
	}
	b.errors.check(t, "the call's page")

	// What version 1 changed, and a node moved by keyboard showing as
	// moved against it once saved.
	b.at(consoleViewports[0])
	b.open("/console/flows/" + flowID)
	b.waitJS("the builder again", `document.getElementById("builder").dataset.ready === "true"`)
	evalJS[chromedp.Void](b, `document.querySelector('#canvas g.node[data-id="welcome"]').focus()`)
	before := evalJS[string](b, `document.querySelector('#canvas g.node[data-id="welcome"]').getAttribute("transform")`)
	b.do("move it", chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown))
	if after := evalJS[string](b, `document.querySelector('#canvas g.node[data-id="welcome"]').getAttribute("transform")`); after == before {
		t.Errorf("arrow keys did not move the node (%s)", after)
	}
	b.do("save the move", chromedp.Click(chromedp.ID("save")))
	b.waitJS("saved", `document.getElementById("builder").dataset.saved !== undefined`)
	for _, v := range consoleViewports {
		b.at(v)
		b.open("/console/flows/" + flowID + "/diff?from=1&to=draft")
		b.waitJS("the changes", `document.querySelector("tr.ch-moved") !== null`)
		b.shoot("flow-diff", v)
	}
	b.errors.check(t, "the changes")
}
