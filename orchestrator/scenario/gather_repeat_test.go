package scenario

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// TestGatherDigitsDuringRepeat: a caller silent at the first offer who
// keys the whole number during the repeat prompt (the repeat prompt, then
// the prompt again) gets every digit to the next applet.
func TestGatherDigitsDuringRepeat(t *testing.T) {
	h := newDynamicHarness(t)
	crm := newCRM(t)
	ctx := context.Background()
	check := crm.handle("/check", crmReply(http.StatusOK, "text/plain", ""))
	h.flowOn(ctx, "+15550000812", fmt.Sprintf(`{"start":"g","applets":{
		"g":{"type":"gather","config":{"prompt":{"text":"Enter your order number, then hash."},
			"repeat_prompt":{"text":"We did not get that."},"max_digits":6,"timeout":3,"max_attempts":2},
			"outputs":{"next":"p"}},
		"p":{"type":"passthru","config":{"url":%q},"outputs":{"success":"bye"}},
		"bye":{"type":"hangup"}}}`, check))

	_, c, _ := h.call(testphone.Script{To: "+15550000812", Digits: []string{"", "4321#"}})
	checkCall(t, c, store.Completed)
	if c.Digits != "4321" {
		t.Errorf("digits %q, want 4321", c.Digits)
	}
	got := crm.asked(t, "/check", c)
	if len(got) != 1 || got[0].Get("digits") != `"4321"` {
		t.Errorf("passthru got %v", got)
	}
}
