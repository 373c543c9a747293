package parking

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeNode keeps global variables as FreeSWITCH's global_setvar and
// global_getvar do (checked against the real node by the scenario
// suite's TestPark): "name=value=expected" sets only if the variable now
// reads expected, an empty value unsets, and an unset variable reads as
// the "-ERR no reply" of an empty api output.
type fakeNode struct {
	mu      sync.Mutex
	globals map[string]string
	writes  []string
	down    bool
	// onAPI, if set, sees each command's context.
	onAPI func(ctx context.Context, cmd string)
}

func newFakeNode() *fakeNode { return &fakeNode{globals: map[string]string{}} }

func (f *fakeNode) Name() string { return "fake" }

func (f *fakeNode) API(ctx context.Context, cmd string) (string, error) {
	if f.onAPI != nil {
		f.onAPI(ctx, cmd)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return "", errors.New("not connected")
	}
	verb, arg, _ := strings.Cut(cmd, " ")
	switch verb {
	case "global_getvar":
		if v, ok := f.globals[arg]; ok {
			return v, nil
		}
		return "", errors.New("api global_getvar: command refused: -ERR no reply")
	case "global_setvar":
		f.writes = append(f.writes, arg)
		p := strings.SplitN(arg, "=", 3)
		cur, set := f.globals[p[0]]
		if len(p) == 3 && p[2] != "" && (!set || cur != p[2]) {
			return "+OK", nil
		}
		if p[1] == "" {
			delete(f.globals, p[0])
		} else {
			f.globals[p[0]] = p[1]
		}
		return "+OK", nil
	}
	return "", errors.New("unknown command " + verb)
}

func (f *fakeNode) get() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.globals[GlobalVar]
}

func (f *fakeNode) set(v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.globals[GlobalVar] = v
}

func newAdvertiser(n Node, tag string, take bool, owned *[]bool) *advertiser {
	cfg := AdvertiseConfig{Tag: tag, Take: take, Every: 1, StaleRounds: 3}
	if owned != nil {
		cfg.Owned = func(_ string, yes bool) { *owned = append(*owned, yes) }
	}
	return &advertiser{cfg: cfg, node: n, log: discard}
}

func TestAdvertiseTakesANodeNobodyOwns(t *testing.T) {
	n := newFakeNode()
	var owned []bool
	a := newAdvertiser(n, "aaaa", true, &owned)
	a.round(t.Context())
	if got := n.get(); got != "aaaa.1" {
		t.Fatalf("after the first round the node names %q, want aaaa.1", got)
	}
	if len(owned) != 0 {
		t.Fatalf("owned %v before the node was seen naming it", owned)
	}
	a.round(t.Context())
	if got := n.get(); got != "aaaa.2" {
		t.Fatalf("the owner's beat: %q, want aaaa.2", got)
	}
	if len(owned) != 1 || !owned[0] {
		t.Fatalf("owned %v, want [true]", owned)
	}
	// Every write but the first is a compare-and-set on what was read.
	if want := GlobalVar + "=aaaa.2=aaaa.1"; n.writes[1] != want {
		t.Errorf("the beat wrote %q, want %q", n.writes[1], want)
	}
}

func TestStandbyTakesOverOnlyWhenTheOwnersBeatStops(t *testing.T) {
	n := newFakeNode()
	var owned []bool
	b := newAdvertiser(n, "bbbb", true, &owned)
	// The owner beats between the standby's rounds: never taken.
	for i := 1; i <= 10; i++ {
		n.set("aaaa." + string(rune('0'+i%10)))
		b.round(t.Context())
		if !strings.HasPrefix(n.get(), "aaaa.") {
			t.Fatalf("round %d: the standby took a node whose owner beats: %q", i, n.get())
		}
	}
	// The owner stops: the standby reads the same value for two more
	// rounds, and takes over on the third.
	for i := 1; i <= 2; i++ {
		b.round(t.Context())
		if got := n.get(); got != "aaaa.0" {
			t.Fatalf("stale round %d: %q, want the owner's last beat kept", i, got)
		}
	}
	b.round(t.Context())
	if got := n.get(); got != "bbbb.1" {
		t.Fatalf("after the owner stopped beating the node names %q, want bbbb.1", got)
	}
	b.round(t.Context())
	if len(owned) != 1 || !owned[0] {
		t.Errorf("owned %v, want [true]", owned)
	}
}

func TestTwoStandbysTakingOverTogetherLeaveOneOwner(t *testing.T) {
	n := newFakeNode()
	n.set("aaaa.9")
	var bOwned, cOwned []bool
	b := newAdvertiser(n, "bbbb", true, &bOwned)
	c := newAdvertiser(n, "cccc", true, &cOwned)
	// Both read the stale value on the same rounds, then both write:
	// the compare-and-set lets only the first through.
	for range 4 {
		b.round(t.Context())
		c.round(t.Context())
	}
	if got := n.get(); got != "bbbb.1" {
		t.Fatalf("the node names %q, want the first writer, bbbb.1", got)
	}
	for range 3 {
		b.round(t.Context())
		c.round(t.Context())
	}
	if !strings.HasPrefix(n.get(), "bbbb.") {
		t.Fatalf("the node names %q: the loser took it back", n.get())
	}
	if len(bOwned) != 1 || !bOwned[0] || len(cOwned) != 0 {
		t.Errorf("owned: b %v, c %v; want b [true], c []", bOwned, cOwned)
	}
}

func TestAnInstanceNotTakingClearsOnlyAGoneOwner(t *testing.T) {
	n := newFakeNode()
	s := newAdvertiser(n, "ssss", false, nil)
	s.round(t.Context())
	if len(n.writes) != 0 {
		t.Fatalf("wrote %v to a node nobody owns", n.writes)
	}
	n.set("aaaa.1")
	for i := 2; i <= 6; i++ {
		s.round(t.Context())
		n.set("aaaa." + string(rune('0'+i)))
	}
	if len(n.writes) != 0 {
		t.Fatalf("wrote %v while the owner beats", n.writes)
	}
	for range 4 {
		s.round(t.Context())
	}
	if got := n.get(); got != "" {
		t.Fatalf("a gone owner is still named: %q", got)
	}
	if want := GlobalVar + "==aaaa.6"; len(n.writes) != 1 || n.writes[0] != want {
		t.Errorf("writes %v, want one compare-and-clear %q", n.writes, want)
	}
}

func TestWithdrawClearsOnlyItsOwn(t *testing.T) {
	n := newFakeNode()
	n.set("aaaa.4")
	if err := Withdraw(t.Context(), n, "bbbb"); err != nil {
		t.Fatal(err)
	}
	if got := n.get(); got != "aaaa.4" {
		t.Fatalf("another instance's withdrawal cleared %q", got)
	}
	if err := Withdraw(t.Context(), n, "aaaa"); err != nil {
		t.Fatal(err)
	}
	if got := n.get(); got != "" {
		t.Fatalf("after its owner withdrew the node names %q", got)
	}
	if err := Withdraw(t.Context(), n, "aaaa"); err != nil {
		t.Fatalf("withdrawing from a node nobody owns: %v", err)
	}
	n.down = true
	if err := Withdraw(t.Context(), n, "aaaa"); err == nil {
		t.Error("withdrawing from a node that cannot be reached said nothing")
	}
}

func TestAnOwnerCutOffFromItsNodeIsTakenOver(t *testing.T) {
	n := newFakeNode()
	var aOwned []bool
	a := newAdvertiser(n, "aaaa", true, &aOwned)
	b := newAdvertiser(n, "bbbb", true, nil)
	a.round(t.Context())
	a.round(t.Context())
	// a loses its connection; its rounds write nothing, b takes over.
	n.down = true
	a.round(t.Context())
	n.down = false
	for range 4 {
		b.round(t.Context())
	}
	if got := n.get(); got != "bbbb.1" {
		t.Fatalf("the node names %q, want bbbb.1", got)
	}
	// a is back: it reads b's value and stands by.
	a.round(t.Context())
	if !strings.HasPrefix(n.get(), "bbbb.") {
		t.Fatalf("the node names %q: the old owner took it back", n.get())
	}
	if len(aOwned) != 2 || !aOwned[0] || aOwned[1] {
		t.Errorf("a owned %v, want [true false]", aOwned)
	}
}

var discard = slog.New(slog.DiscardHandler)

// A round's commands run on the node's connection, which every parked
// call's commands share, and one given up on closes it: neither the
// round's period (newAdvertiser's is 1 ns) nor the end of Advertise's
// context may cut them short.
func TestAdvertiseCommandsAreNotCutShort(t *testing.T) {
	n := newFakeNode()
	var cmds int
	n.onAPI = func(ctx context.Context, cmd string) {
		cmds++
		dl, ok := ctx.Deadline()
		if err := ctx.Err(); err != nil || !ok || time.Until(dl) < commandTimeout/2 {
			t.Errorf("%s: context %v, %v left: want %v to answer", cmd, err, time.Until(dl), commandTimeout)
		}
	}
	a := newAdvertiser(n, "aaaa", true, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // Advertise is ending as the round runs
	a.round(ctx)
	if cmds != 2 || n.get() != "aaaa.1" {
		t.Fatalf("%d commands, the node names %q: want the read and the write, aaaa.1", cmds, n.get())
	}
}
