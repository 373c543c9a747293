package scenario

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// The call's record keeps the applets it ran through, in order, in its
// own flow. Their times are the flow's clock's, not the node's (the
// emulator runs the node's faster), so only their order is checked.
func TestAppletPathIsRecorded(t *testing.T) {
	h := newHarness(t)
	_, c, _ := h.call(testphone.Script{To: supportNum, Digits: []string{"1"}})
	checkCall(t, c, store.Completed)
	var names []string
	for i, st := range c.AppletPath {
		names = append(names, st.Applet+":"+st.Type)
		if c.FlowID == nil || st.Flow != *c.FlowID {
			t.Errorf("step %d (%s) in flow %q, want the call's %v", i, st.Applet, st.Flow, c.FlowID)
		}
		if st.At.IsZero() || (i > 0 && st.At.Before(c.AppletPath[i-1].At)) {
			t.Errorf("step %d (%s) at %v: no time, or before the step it follows", i, st.Applet, st.At)
		}
	}
	if got, want := strings.Join(names, " "), "welcome:greeting menu:ivr tech:connect"; got != want {
		t.Errorf("applet path %q, want %q", got, want)
	}
}
