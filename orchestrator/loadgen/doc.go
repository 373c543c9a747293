// Package loadgen generates call load on a FreeSWITCH node, real or
// emulated, and measures how Switchyard takes it: `switchyard sim load`.
//
// Every call is a loopback pair placed over the node's inbound Event
// Socket, as orchestrator/testphone places one:
//
//	originate {origination_uuid=<A>,origination_caller_id_number=<from>}loopback/<to>/public &park()
//
// The parked -a leg is the caller's phone; the -b leg runs the public
// dialplan, which hands the call to Switchyard. Unlike testphone, a run
// shares a few inbound connections between all its calls: one receives
// every call's events (filtered to the callers' numbers, +1 555 07 and six
// digits, unique per call) and sends the originates, the others carry the
// per-call commands. A router hands each event to its call's goroutine by
// Unique-ID (the caller's phone) or caller id (the controlled channel).
//
// Each call plays a Script (press digits at each digit collection, hang up
// a while after the answer or the bridge) and is judged completed or failed
// with a cause. The run reports setup latency (originate sent → Switchyard
// answers), DTMF→bridge latency, CPU per call of the Switchyard and node
// processes, and, given Switchyard's database, the calls Switchyard lost:
// those with no final record after a grace period, or closed by the
// reconciler.
//
// A compared run (Config.Compare) calls a second number as often, in
// blocks that alternate with the first's, and sets the node's CPU a call
// on the two side by side (Comparison): a machine's drifting speed then
// weighs on both alike.
package loadgen
