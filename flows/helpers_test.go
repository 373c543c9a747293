package flows

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// at returns the test clock plus n seconds.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

var testCall = CallInfo{
	CallSid:   "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
	From:      "+15550109999",
	To:        "+15550000100",
	Direction: "incoming",
	ExoPhone:  "+15550000100",
	FlowID:    "support",
}

func mustLoad(t testing.TB, doc string) *Flow {
	t.Helper()
	f, problems := Load([]byte(doc))
	if err := problems.Err(); err != nil {
		t.Fatalf("load: %v", err)
	}
	return f
}

func mustLoadFile(t testing.TB, name string) *Flow {
	t.Helper()
	data, err := os.ReadFile(fixturePath(name))
	if err != nil {
		t.Fatal(err)
	}
	return mustLoad(t, string(data))
}

// run feeds events to a flow from the start and returns the final state
// and the commands each event produced.
func run(f *Flow, events ...Event) (State, [][]Command) {
	var s State
	var out [][]Command
	for _, ev := range events {
		var cmds []Command
		s, cmds = Step(f, s, ev)
		out = append(out, cmds)
	}
	return s, out
}

func start() Started { return Started{At: at(0), Call: testCall} }

// describe renders a command or event as "Kind {json}".
func describe(v interface{ Kind() string }) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%s <%v>", v.Kind(), err)
	}
	return v.Kind() + " " + string(b)
}

func kinds(cmds []Command) string {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.Kind()
	}
	return strings.Join(names, ",")
}

// only returns the single command of a batch, failing otherwise.
func only[T Command](t *testing.T, cmds []Command) T {
	t.Helper()
	if len(cmds) != 1 {
		t.Fatalf("want one command, got %d: %s", len(cmds), kinds(cmds))
	}
	c, ok := cmds[0].(T)
	if !ok {
		var zero T
		t.Fatalf("want %T, got %s", zero, describe(cmds[0]))
	}
	return c
}

// fixturePath finds a document: the seed examples live in examples/, test
// only documents in testdata/.
func fixturePath(name string) string {
	if _, err := os.Stat("examples/" + name); err == nil {
		return "examples/" + name
	}
	return "testdata/" + name
}
