package loadgen

import (
	"context"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/esl"
)

// A socket application on the caller's channel means Switchyard took the
// call, unless the channel is the native twin's behind a socket of sim
// node's own, which marks itself.
func TestSocketTakenBySwitchyard(t *testing.T) {
	for _, c := range []struct {
		name    string
		headers map[string]string
		took    bool
	}{
		{"Switchyard's socket", map[string]string{"Application": "socket"}, true},
		{"the native twin's", map[string]string{"Application": "socket", "variable_native_basic_support": "behind_socket"}, false},
		{"another application", map[string]string{"Application": "answer"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			sc := &simCall{}
			sc.executed(context.Background(), esl.Event{Headers: c.headers})
			if sc.took != c.took {
				t.Errorf("took = %v, want %v", sc.took, c.took)
			}
		})
	}
}
