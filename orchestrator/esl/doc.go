// Package esl is Switchyard's port to FreeSWITCH's Event Socket, built on
// github.com/percipia/eslgo. It owns the outbound-socket server that
// FreeSWITCH's socket application dials once per call, the inbound
// connections to nodes (api, bgapi, events, HEARTBEAT), command building
// and event decoding.
//
// # eslgo's hazards, and what this package does about each
//
//   - Event order: eslgo hands every event to listeners on a fresh
//     goroutine, so arrival order is lost. Events are decoded here and
//     routed by Unique-ID; consumers order them by Event.Seq and let
//     terminal events win (see the call package). Results of applications
//     are matched by Application-UUID, never by arrival order.
//   - Reply matching: eslgo matches replies to commands by arrival order on
//     one shared channel. Conn holds a mutex across each round trip (one
//     command in flight) and closes the connection if a reply times out,
//     rather than let the late reply reach the next command.
//   - Header parsing: eslgo parses plain events with net/textproto, which
//     rejects header names FreeSWITCH allows and then drops the event.
//     Switchyard subscribes in JSON, which eslgo passes through raw, and
//     decodes it here leniently.
//   - bgapi correlation: BgAPI sends our own Job-UUID and registers the
//     waiter before sending.
//   - Outbound lifetime: eslgo sends exit when the handler returns, so the
//     handler runs for the whole call; callers send linger so that
//     CHANNEL_HANGUP_COMPLETE arrives. eslgo's listener cannot be closed,
//     so Server owns the public listener and passes connections through
//     to a private Unix socket: closing the public listener stops new
//     calls while live calls drain.
//   - Closing: eslgo's close() deletes from a map that its own auth and
//     disconnect loops read without a lock (a data race the race detector
//     reports). On inbound connections Conn never calls it: it cancels
//     eslgo's loops and sends exit, and FreeSWITCH closes the socket. On
//     outbound ones eslgo itself closes after the handler returns; that is
//     ordered after its disconnect loop's read only when FreeSWITCH's
//     linger notice came first, which is what FreeSWITCH sends when the
//     channel hangs up. A handler that returns before its channel hung up
//     (a shutdown cutting live calls) can still hit eslgo's race: benign
//     in practice (the read long preceded the write), and not fixable
//     without changing eslgo. A connection eslgo gets and loses before
//     its connect reply hits the same race as eslgo starts it, so a
//     connection accepted once Shutdown began is dropped unspliced.
//   - Disconnects: Node redials inbound connections with backoff and
//     jitter, re-subscribes, watches HEARTBEAT, and reports a changed
//     Core-UUID (a restarted node) so its calls can be reconciled.
package esl
