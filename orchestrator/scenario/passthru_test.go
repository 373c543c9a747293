package scenario

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/passthru"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// TestPassthruOutputs runs a flow whose passthru asks a local CRM, which
// answers 200, 302, 500 or not at all: the flow takes success, alternate,
// error and error (after the 1 s timeout), and every request is logged on
// the call.
func TestPassthruOutputs(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("CallSid") == "" || r.URL.Query().Get("Direction") != "incoming" {
			http.Error(w, "missing Exotel parameters", http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/200":
			w.WriteHeader(http.StatusOK)
		case "/302":
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(http.StatusFound)
		case "/500":
			w.WriteHeader(http.StatusInternalServerError)
		case "/slow":
			select { // held until the client gives up, then released by the test
			case <-r.Context().Done():
			case <-release:
			}
		}
	}))
	defer crm.Close()
	h := newHarnessWith(t, passthru.New(nil, passthru.Config{HTTPClient: localHTTP()}, nil))
	ctx := context.Background()
	for i, tc := range []struct{ path, want string }{
		{"/200", "success"}, {"/302", "alternate"}, {"/500", "error"}, {"/slow", "error"},
	} {
		number := fmt.Sprintf("+1555000050%d", i)
		doc := fmt.Sprintf(`{"start":"ask","applets":{
			"ask":{"type":"passthru","config":{"url":%q,"timeout":1},"outputs":{"success":"s","alternate":"a","error":"e"}},
			"s":{"type":"greeting","config":{"prompt":{"text":"took success"}},"outputs":{"next":"bye"}},
			"a":{"type":"greeting","config":{"prompt":{"text":"took alternate"}},"outputs":{"next":"bye"}},
			"e":{"type":"greeting","config":{"prompt":{"text":"took error"}},"outputs":{"next":"bye"}},
			"bye":{"type":"hangup"}}}`, crm.URL+tc.path)
		h.flowOn(ctx, number, doc)
		res, c, _ := h.call(testphone.Script{To: number})
		if c == nil || c.Status != store.Completed {
			t.Fatalf("%s: call %+v", tc.path, c)
		}
		if !strings.Contains(fmt.Sprint(res.Path), "took "+tc.want) {
			t.Errorf("%s: path %v, want the %s output", tc.path, res.Path, tc.want)
		}
	}
}

// flowOn publishes doc as a flow, assigns it to a new ExoPhone and
// returns the flow's ID.
func (h *harness) flowOn(ctx context.Context, number, doc string) string {
	h.t.Helper()
	f, err := h.db.Flows().Create(ctx, account, "flow for "+number, []byte(doc))
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.db.Flows().Publish(ctx, account, f.ID); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.db.Numbers().Create(ctx, account, number, ""); err != nil {
		h.t.Fatal(err)
	}
	if err := h.db.Numbers().AssignFlow(ctx, account, number, &f.ID); err != nil {
		h.t.Fatal(err)
	}
	return f.ID
}
