package call

import (
	"context"
	"fmt"
	"slices"

	"github.com/switchyard/switchyard/orchestrator/esl"
)

// A call that is bridged for good (the flow has nothing left for the
// caller once the conversation ends) lets go of its socket: FreeSWITCH
// serves a live socket for the whole call, a thread that wakes every
// 20 ms, while the node's own connection to this instance is there
// anyway. The channels are marked with DetachVar, and that connection's
// filter lets their last events through.

// DetachVar is the channel variable that marks a detached call's
// channels with a tag of the instance that runs the call (detachTag).
const DetachVar = "switchyard_detached"

// DetachEvents are the event types a detached call still needs: its
// bridge's result and every channel's final record (which also says that
// the caller hung up; see subscribed).
func DetachEvents() []string {
	return []string{"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP_COMPLETE"}
}

// DetachFilters are the filters that let through the events of the
// channels instance detached, on a node connection subscribed to
// DetachEvents: those marked with its tag, except the completion of the
// socket application itself, which ends on the caller's channel when the
// socket is let go and tells the call nothing (each event costs the node
// its serialisation, and serve its decoding).
func DetachFilters(instance string) []esl.Filter {
	return []esl.Filter{{Name: "variable_" + DetachVar, Value: detachTag(instance)}, {Name: "Application", Value: "-socket"}}
}

// detachTag is what DetachVar is set to: the instance ID's first 8
// characters, as every byte of a command costs the node two system calls
// (see package esl). Instance IDs are random; two live instances whose
// tags match would only see each other's detached events, which no
// route claims.
func detachTag(instance string) string { return instance[:min(len(instance), 8)] }

// Tag is the tag of instance's calls: their channels' DetachVar, and the
// owner a node's dialplan parks calls for (package parking).
func Tag(instance string) string { return detachTag(instance) }

// Detacher finds the connection of the node a channel is on.
type Detacher interface {
	// NodeConn returns the connection to the node with this Core-UUID;
	// an error when there is none or it is down.
	NodeConn(core string) (*esl.Conn, error)
	// WaitConn waits until the node with this Core-UUID is connected
	// again; an error when ctx ends first or the node came back with
	// another Core-UUID (it restarted: its channels are gone).
	WaitConn(ctx context.Context, core string) (*esl.Conn, error)
	// Want subscribes the connection to the node with this Core-UUID to
	// an event type until release is called (esl.Node.Want); release may
	// be nil only with an error.
	Want(ctx context.Context, core, event string) (release func(), err error)
}

// PoolDetacher finds nodes' connections in an esl.Pool.
func PoolDetacher(p *esl.Pool) Detacher { return poolDetacher{p} }

type poolDetacher struct{ p *esl.Pool }

func (d poolDetacher) node(core string) (*esl.Node, error) {
	if core == "" {
		return nil, fmt.Errorf("the channel names no node (no Core-UUID): %w", esl.ErrNotConnected)
	}
	for _, n := range d.p.Nodes() {
		if n.Health().CoreUUID == core {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no connection to node %s: %w", core, esl.ErrNotConnected)
}

func (d poolDetacher) NodeConn(core string) (*esl.Conn, error) {
	n, err := d.node(core)
	if err != nil {
		return nil, err
	}
	return n.Conn()
}

func (d poolDetacher) Want(ctx context.Context, core, event string) (func(), error) {
	n, err := d.node(core)
	if err != nil {
		return nil, err
	}
	return n.Want(ctx, event)
}

func (d poolDetacher) WaitConn(ctx context.Context, core string) (*esl.Conn, error) {
	n, err := d.node(core)
	if err != nil {
		return nil, err
	}
	conn, err := n.WaitConnected(ctx)
	if err != nil {
		return nil, err
	}
	if now := n.Health().CoreUUID; now != core {
		return nil, fmt.Errorf("node %s restarted (now %s): %w", core, now, esl.ErrNotConnected)
	}
	return conn, nil
}

// ParkVar tells the dialplan to park a call whose socket Switchyard let
// go of at once (Config.Handoff): the call goes on over the node's
// connection, whose sendmsg commands the parked channel runs
// (freeswitch-conf's switchyard_unavailable extension).
const ParkVar = "switchyard_park"

// HandoffEvents are the event types a node's connection takes when its
// calls are handed off to it: a call's own (Subscribed) and
// DetachEvents, and CHANNEL_PARK (the call starts once the dialplan
// parked its channel). A queued call adds PLAYBACK_START while it is
// queued, to follow its hold music (Detacher.Want): with every prompt's
// start on the connection it was 2 of the 15 events of a Basic Support
// call.
func HandoffEvents() []string {
	out := Subscribed()
	for _, ev := range append(DetachEvents(), "CHANNEL_PARK") {
		if !slices.Contains(out, ev) {
			out = append(out, ev)
		}
	}
	return out
}

// NodeSubscription is what a node's connection subscribes to and filters
// for instance's calls: HandoffEvents and HandoffFilters when its calls
// are handed off to it, else DetachEvents and DetachFilters.
func NodeSubscription(instance string, handoff bool) ([]string, []esl.Filter) {
	if handoff {
		return HandoffEvents(), HandoffFilters(instance)
	}
	return DetachEvents(), DetachFilters(instance)
}

// HandoffFilters are DetachFilters and the completions no call reads:
// quiet's, those of the dialplan's execute_extension and park that host
// a handed-off call (they end with the channel), and of the fallback a
// call the dialplan parked for instance comes with (sched_transfer:
// package parking). On a node's
// connection subscribed to HandoffEvents they let through the events of
// the channels of calls handed off to instance, and of their legs. They
// are sent once a connection, not once a call.
func HandoffFilters(instance string) []esl.Filter {
	return append(append(DetachFilters(instance), quiet...),
		esl.Filter{Name: "Application", Value: "-execute_extension"}, esl.Filter{Name: "Application", Value: "-park"},
		esl.Filter{Name: "Application", Value: "-sched_transfer"})
}
