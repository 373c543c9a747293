package main

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// TestServeEgressDenied: without -egress-allow, serve's status callbacks
// may not connect to loopback. The attempt records why, and the receiver
// on 127.0.0.1 gets nothing.
func TestServeEgressDenied(t *testing.T) {
	t.Parallel()
	s := startServe(t, storetest.SQLiteDSN(t), func(c *Config) {
		c.EgressAllow = ""
		c.CallbackAttempts = 1
	})
	rc := newReceiver(t)
	c := s.connect(url.Values{"From": {"+15550100101"}, "To": {"+15550100001"}, "CallerId": {demoPhone},
		"StatusCallback": {rc.url}, "StatusCallbackEvents[]": {"terminal"}})
	s.waitEnded(c.Sid)

	var att struct {
		Response struct {
			Callbacks []struct {
				Status   string `json:"status"`
				Attempts []struct {
					HTTPStatus int    `json:"http_status"`
					Error      string `json:"error"`
				} `json:"attempts"`
			} `json:"callbacks"`
		}
	}
	// The one attempt is made after the call's record is written: wait
	// for the callback to be marked failed.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		s.getJSON("/v2/accounts/"+demoAccount+"/calls/"+c.Sid+"/callbacks", &att)
		if cbs := att.Response.Callbacks; len(cbs) == 1 && cbs[0].Status == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callback not failed within 30s: %+v", att.Response.Callbacks)
		}
	}
	a := att.Response.Callbacks[0].Attempts
	if len(a) != 1 || a[0].HTTPStatus != 0 || !strings.Contains(a[0].Error, "egress denied: 127.0.0.1:") ||
		!strings.Contains(a[0].Error, "is loopback; see -egress-allow") {
		t.Errorf("attempts: %+v", a)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) != 0 || len(rc.refused) != 0 {
		t.Errorf("the receiver was reached: %d delivered, %d refused", len(rc.got), len(rc.refused))
	}
}
