// Package call runs calls. FreeSWITCH hands each inbound call to the
// outbound-socket server; Runtime.Handle then owns it on one goroutine for
// its whole life: it routes the dialed number to the ExoPhone's pinned flow
// version, writes the call row before the first command, drives the flow
// with flows.Step, turns its commands into applications on the channel
// (speak/playback, play_and_get_digits, bridge, record, record_session) and
// feeds their results back as flow events.
//
// # Machine and driver
//
// A call is split the way flows.Step is split from its caller. The
// machine (call, in call.go, connect.go, queue.go) takes one input at a
// time — an event of its channels, a timer, a passthru answer, a plan, the
// loss of its socket — and returns effects (effects.go): commands for the
// channel, typed store writes, requests, timers. It does no I/O, starts no
// goroutine and reads no clock of its own (env carries the clocks and id
// sources), so machine_test.go runs whole calls on a fake clock in
// milliseconds and holds their effects to golden traces. The few reads a
// call must wait for (its route, agents, holds, its place in a queue) go
// through lookups, which the driver answers after executing the effects
// emitted before them, so a read sees the call's own writes.
//
// The driver (driver.go) owns the goroutine, the socket, the timers and
// polls: it executes the effects in order, retries the writes that must
// land, turns a failed channel command into the machine's lostControl, and
// joins every goroutine it started before Handle returns. Requests that
// outlive a call (passthru, messages, plans, the first legs of API calls)
// are joined by Runtime.Wait.
//
// # Legs
//
// Every leg gets a row: the caller's, and each destination a Connect rings,
// losers of parallel ringing included. Legs Switchyard dials get their
// UUIDs up front (origination_uuid) and a filter on the call's own socket,
// so their events arrive there too. Final statuses come from each leg's
// CHANNEL_HANGUP_COMPLETE through LegStatus; when a leg's record is lost,
// the bridge's originate_causes closes it.
//
// # Detached calls
//
// A live socket costs the node for every second of the call (its
// listener thread wakes every 20 ms). When the caller is bridged to the
// leg that answered, every other leg of the bridge has its record (a
// queue's connect included: its timers act only while the caller waits
// in line), and nothing the flow can do after the
// conversation needs the caller's channel (flows.ChannelAfter: only SMS,
// email, passthru, switches and hang-ups follow), the call detaches
// (Config.Detach, serve -detach): it marks both channels with DetachVar
// (this instance's ID), sets hangup_after_bridge on the caller, and sends
// "exit". FreeSWITCH keeps the bridge up; when it ends the caller is hung
// up. The bridge's result and both channels' records then come through
// the node's own connection, whose filter lets through only the channels
// marked for this instance, and the call finishes as one that kept its
// socket would. Until the socket closes an event may come both ways; a
// leg's second final record is ignored. If that connection drops, the
// call waits for the node's next one (Config.ReattachWait) and asks
// whether the caller's channel still exists: it goes on if so, and ends
// as lost (CauseLostControl) if not, or if the node restarted.
//
// # Handed-off calls
//
// With Config.Handoff (serve -control node) an inbound call lets go of
// its socket before its first command, once it is routed and recorded (a
// refused call keeps its socket for its announcement): the socket sets
// resume, then the call's variables with DetachVar and ParkVar in one
// command, and exits; the dialplan's switchyard_unavailable extension
// answers and parks the channel, and once its CHANNEL_PARK (the park
// application's, not the socket application's own) comes through the
// node's connection the flow starts, as it would on its socket, without
// the two commands (multiset, answer) a call on a socket starts with.
// Its commands go out on that connection (sendmsg <uuid>), its legs carry
// the mark in their dial strings, so the connection's filter
// (HandoffFilters) lets their events through without a filter a leg, and
// nothing detaches later. While the connection is lost the call
// waits for the next one as a detached call does, holding its commands
// until then. API calls, whose socket application has no dialplan to
// return to, keep their sockets.
//
// # Order
//
// The call's socket delivers events in the order FreeSWITCH sent them,
// but that order is not the channels' own (a leg's events and the
// caller's interleave, and FreeSWITCH queues them per listener), and
// inbound connections through eslgo lose it. Nothing here depends on
// arrival order: results are matched
// to commands by Application-UUID, a leg's status only moves forward and
// ignores events older than one applied, and CHANNEL_HANGUP_COMPLETE is
// final. When the caller hangs up with a command in flight, the runtime
// waits (bounded by Config.Settle) for that command's result first.
package call
