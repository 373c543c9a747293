// Package esl is Switchyard's port to FreeSWITCH's Event Socket. It owns
// the outbound-socket server that FreeSWITCH's socket application dials
// once per call, the inbound connections to nodes (api, bgapi, events,
// HEARTBEAT), command building and event decoding.
//
// The tools' inbound connections (DialInbound: sim load, the test phone,
// node checks) go through github.com/percipia/eslgo. Serve's own
// connections to its nodes (Node, through DialOrdered) and outbound
// connections (one per live call) speak the protocol here (socket.go,
// frame.go), because eslgo has flaws that no wrapper can avoid:
//
//   - A node's goodbye races: when a node sends its disconnect notice on
//     an inbound connection (it is shutting down), eslgo's disconnect
//     loop closes the connection, deleting from a map its auth loop is
//     still reading without a lock. The race detector reports it when a
//     node goes down under serve (the fault suite's node test); Go can
//     end the process for such a concurrent map access. Node therefore
//     uses the transport outbound sockets use, and hands each event over
//     in order on its reader goroutine instead of a goroutine per event.
//   - Close under a command: eslgo's close() cancels its receive loop,
//     then waits for a lock held by an in-flight SendCommand, which only
//     its caller's context can end. Every command in flight on a closing
//     socket waited the full 5 s timeout with the CPU idle, and the
//     connection was reported poisoned. Here a closing socket fails its
//     command in flight at once (ErrClosed).
//   - Early hang-up: when the caller hangs up before the connect reply,
//     eslgo closes the socket and never calls the handler. Here the
//     handshake reads the disconnect notice's Controlled-Session-UUID and
//     logs the call; one that got its connect reply always reaches the
//     handler, which writes its record even if the socket is already gone.
//   - Cost per call: eslgo's listener cannot be closed, so Switchyard ran
//     it on a private Unix socket and spliced every connection to it (3
//     file descriptors and 2 copying goroutines per call, every byte
//     copied twice through the kernel), and eslgo starts a goroutine per
//     event, which also loses their order. Here one reader goroutine per
//     call reads each frame and hands it on in order; one descriptor.
//   - Frame bounds: eslgo trusts Content-Length (-1 panics in makeslice,
//     a huge one is a fatal out-of-memory) and buffers a header line
//     without end. Here every line, header block and body is bounded
//     (ErrFrame), and a peer that breaks them loses only its connection.
//
// The figures before and after are in the package's benchmarks and in
// `switchyard sim load` (see the README's load section).
//
// # eslgo's hazards on inbound connections, and what this package does
//
//   - Event order: eslgo hands every event to listeners on a fresh
//     goroutine, so arrival order is lost. Events are decoded here and
//     routed by Unique-ID; consumers order them by Event.Seq and let
//     terminal events win (see the call package). Results of applications
//     are matched by Application-UUID, never by arrival order.
//   - Reply matching: eslgo matches replies to commands by arrival order on
//     one shared channel. Conn holds a mutex across each round trip (one
//     command in flight) and closes the connection if a reply times out,
//     rather than let the late reply reach the next command. Both
//     transports share this.
//   - Header parsing: eslgo parses plain events with net/textproto, which
//     rejects header names FreeSWITCH allows and then drops the event.
//     Connections over eslgo subscribe in JSON, which eslgo passes
//     through raw; serve's own connections, read here, take the plain
//     format, which costs the node less to make (subscribeCmd), and both
//     are decoded here leniently.
//   - bgapi correlation: BgAPI sends our own Job-UUID and registers the
//     waiter before sending.
//   - Closing: eslgo's close() deletes from a map that its own auth and
//     disconnect loops read without a lock (a data race the race detector
//     reports). Conn never calls it: it cancels eslgo's loops and sends
//     exit, and FreeSWITCH closes the socket.
//   - Disconnects: Node redials inbound connections with backoff and
//     jitter, re-subscribes, watches HEARTBEAT, and reports a changed
//     Core-UUID (a restarted node) so its calls can be reconciled.
//
// # Outbound lifetime
//
// The handler runs for the whole call; callers send linger so that
// CHANNEL_HANGUP_COMPLETE arrives. Once the handler is done with a channel
// FreeSWITCH said is down (its linger notice), the socket closes at once;
// otherwise when FreeSWITCH's linger time runs out (or here, shortly
// after). A socket is not free for the node while it is open: its listener
// thread wakes every 20 ms (mod_event_socket polls the socket with that
// timeout, and only a command wakes it sooner), so a call pays for its
// socket for its whole length, a lingering one after it, and the session
// stays allocated until the socket closes. With 100 calls held in a
// bridge on a real node, that was 66 to 82 context switches a second per
// call beyond the same calls run natively; 100 calls parked behind
// sockets that send nothing cost the node 1.1-1.3 ms a second each more
// than 100 parked without, as much again as the parked call itself. A
// Basic Support call holds its socket for 2.5-3 s (greeting, menu,
// ringing), about 3 ms of the node's CPU; opening and closing the socket
// costs less, 0.5-4 ms (the native twin behind a socket that hands the
// call straight back, sim node's +15550009001). So a call bridged for good
// lets go of its socket (package call, Detach): after "exit" FreeSWITCH
// clears the channel's control flag but leaves the running bridge alone,
// and the channel's events reach Switchyard through the node's own
// connection (NodeConfig.Filters narrow it to the channels marked for
// this instance).
//
// Server owns its listener: closing it stops new calls while live calls
// drain, and ServerConfig.MaxCalls refuses calls past a set number (the
// node then runs its dialplan's fallback: FreeSWITCH moves to the next
// socket address only when it cannot connect).
//
// # What the node pays per command
//
// mod_event_socket reads a command's header block one byte per read(2),
// each followed by sched_yield(2), and its body in one read: a header byte
// costs the node two system calls. So commands are built short:
// lines end in a bare LF, nothing follows a body, an application's
// argument longer than a body's own headers travels in a body, commands
// for the socket's own channel leave its UUID out, an application nobody
// waits for carries no Event-UUID and one that is waited for a short id
// (NewAppID) instead of a UUID. On the real node a Basic Support call's
// socket went from 1,194 header bytes to 949 with the last four; the
// emulator counts them too (fsim's SocketTraffic, in the scenario
// benchmark's node-header-B/call).
//
// # What the node pays per event
//
// FreeSWITCH copies an event for every connection whose subscription and
// filters it passes, serialises the copy and writes it: about 180 µs of
// the node's CPU an event and connection on FreeSWITCH 1.10.12 (four
// extra subscribers to a call's event types cost 15-22 ms more a call of
// the native flow at 10 calls/s). So a call's socket takes only what the
// call reads, and negative filters (Session.Follow's) keep off it what
// its channel sends that nobody reads. On the real node a Basic Support
// call that rings two agents brings 10 events to its socket and 5 to the
// node's connection; the scenario suite's TestBasicSupportCallNodeTraffic
// holds a one-agent call to 11 in all on the emulator.
//
// The commands a call's input leaves go out together: one write, the
// replies taken in order. On a real node at 10 calls/s this cut the
// command round trips from 11 to 8 a call, and the node's context
// switches beyond the native flow's by about 40 %. A call does not wait
// for them either (Post): the socket's reader takes the replies, a FIFO
// of takers keeps each with its command, and only a refusal goes back
// to the call.
//
// # Reading and writing without the scheduler's bookkeeping
//
// On Linux a socket's reads and writes are raw system calls on its
// non-blocking descriptor (rawio_linux.go); Go's poller still does the
// waiting, deadlines and closing, as for any net.Conn. A system call made
// the usual way tells the scheduler it may block, and when the process was
// idle that wakes the runtime's monitor thread, which then polls every 20
// µs until the process is idle again. On a quiet node every ESL frame
// wakes serve from idle: at 10 calls/s on the real node the monitor's
// polling was a sixth of serve's CPU (perf), and with raw reads and writes
// serve made 19 % fewer system calls (nanosleep -23 %, futex -32 %) and
// spent 8.5-10.1 ms of CPU a call against 9.8-11.7 in three alternating
// pairs (11.8-12.5 % of the node's CPU in the same run, against
// 13.5-14.2 %); at 200 calls/s on the emulator 4.0-4.2 ms against 4.4-4.6.
//
// # Metrics
//
// Given a metrics.Set (ServerConfig.Metrics for outbound sockets,
// WithMetrics for DialOrdered), a connection times every command's round
// trip, from writing it to reading its reply (a pipeline's commands count
// as one), and counts the commands that failed: a timeout, a closed
// connection, a -ERR or -USAGE reply. An
// outbound socket's connect handshake counts as a command; the
// authentication of an inbound connection does not. The label is the
// node: its configured name on an inbound connection, the peer's address
// without its port on an outbound socket. The server also counts the calls
// it refuses, by reason (at capacity, draining, a peer not allowed).
package esl
