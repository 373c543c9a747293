// Package fsim is an in-process FreeSWITCH emulator that speaks the real
// Event Socket (ESL) wire protocol of FreeSWITCH 1.10 over TCP. CI and the
// embedded default (`make run`) run Switchyard against it instead of a real
// node; it is stdlib-only.
//
// # Using it
//
//	s := fsim.New(fsim.Config{SocketAddr: "127.0.0.1:8084", Tick: fsim.DefaultTick})
//	if err := s.Listen("127.0.0.1:8021"); err != nil { ... } // inbound ESL, password ClueCon
//	defer s.Close()
//
// Switchyard connects to Addr() like to any node (auth, event, filter, api,
// bgapi, sendmsg ...). Simulated inbound calls are placed the way the test
// driver does it against a real node,
//
//	bgapi originate {origination_uuid=<A>,origination_caller_id_number=<from>}loopback/<to>/public &park()
//
// or in-process with PlaceCall (which adds a caller script: digits, hang-up
// time, how long the caller talks into a recording). The -b half of the
// loopback pair runs the "dialplan"; a managed number (anything that is not
// a test number below) gets `socket <SocketAddr> async full`, so the emulator
// dials Switchyard's outbound-socket server exactly as FreeSWITCH would.
//
// Time: Speed scales the simulated clock (rings, playback, sleeps,
// timeouts, recordings, linger N, HEARTBEAT; epochs and durations in events
// are simulated). Tick is real time: queued sendmsg steps start on the
// channel's next media tick (DefaultTick = 20 ms, as measured on a real
// node); Tick 0 services them at once, for fast tests.
//
// # The dialplan and the test phone network
//
// A channel that runs the dialplan (the -b half of loopback/<n> and of
// sofia/<profile>/<n>@host, or a leg sent to an extension by originate or
// uuid_transfer) is routed by its destination number:
//
//	+15550100001 … 099   ring_ready, sleep 1000, answer, park        (rings 1 s, answers, stays up)
//	+15550100101 … 199   respond 486, hangup USER_BUSY               (busy; SIP 486 on SIP legs)
//	+15550100201 … 299   ring_ready, park                            (rings forever)
//	+15550100301 … 399   respond 603, hangup CALL_REJECTED           (rejected; SIP 603)
//	+15550100401 … 499   ring_ready, sleep 1000, answer, sleep NN s, hangup   (NN = last two digits)
//	ansNNNN, noanswer, busy, rejectCAUSE, park, sockNNNN   the lab destinations of the reference transcripts
//	anything else        socket <SocketAddr> async full (a managed number) — except for a
//	                     loopback leg dialled by bridge, which answers like 0001…0099
//
// Numbers match with or without '+'. Far ends reached through
// sofia/gateway/<gw>/<n>, user/<n> and null/<x> are single channels that
// behave the same way without running applications (SIP 180, 200, 486, 603;
// sip_term_status set). error/<CAUSE> fails at once.
//
// # What is faithful (and tested against the captures)
//
// The fidelity test replays the application side of the eight reference
// transcripts (FreeSWITCH 1.10.12) against the emulator and compares, per
// connection: every reply (Reply-Text, api/response bodies, disconnect
// notices), and per channel the sequence of events with their key headers
// (Application, -Data, -Response, Hangup-Cause, Answer-State, DTMF-*,
// Call-Direction, BACKGROUND_JOB bodies) and, for every byte-exact event,
// the names and order of all non-variable headers. Every byte-exact frame of
// the transcripts re-renders identically through the frame writers
// (envelopes, URL-encoding, nested bodies, JSON arrays). In particular:
//
//   - inbound ESL: auth/request, auth, event plain|json|xml (cumulative,
//     CUSTOM subclasses), nixevent, noevents, filter (OR-ed positive,
//     -negative, /regex/, case-insensitive; delete with FreeSWITCH's reply
//     texts), api (blocking, events held behind the response), bgapi with
//     client Job-UUID and BACKGROUND_JOB, sendmsg <uuid>, myevents <uuid>,
//     sendevent, exit; HEARTBEAT with RE_SCHEDULE; Event-Sequence per server;
//   - outbound sockets: connect with the CHANNEL_DATA dump (reply headers
//     last), async and static (unquoted &socket()) modes, myevents (its
//     exact event set, BACKGROUND_JOB of the session's jobs), full-mode
//     api/bgapi/event/filter so B-leg events reach the call's own socket via
//     `filter Unique-ID`, linger/linger N/nolinger, getvar, CHANNEL_PARK
//     before the first step, the hang-up order (HANGUP, app stop events,
//     EXECUTE_COMPLETE, UNPARK, EXECUTE_COMPLETE socket, STATE, RECORD_STOP
//     of session recordings, HANGUP_COMPLETE, linger or disconnect notice);
//   - applications and APIs listed in the package (apps.go, api.go) with
//     FreeSWITCH's result variables: play_and_get_digits semantics (timeout
//     clamp, invalid prompt on timeouts, <var>_invalid, read_result), record
//     result variables, bridge result variables (originate_disposition,
//     DIALSTATUS, originate_causes accumulating, stale
//     last_bridge_proto_specific_hangup_cause ...), continue_on_fail,
//     leg_timeout → ALLOTTED_TIMEOUT, originate_timeout → NO_ANSWER,
//     LOSE_RACE, ORIGINATOR_CANCEL, loopback/SIP pair cause propagation,
//     caller-ID flip of originated legs, billing variables of
//     CHANNEL_HANGUP_COMPLETE computed like switch_channel_set_timestamps.
//
// # What is simplified, and why
//
//   - No media. Playback of a file or URL lasts Config.PlaybackLength;
//     tone_stream://, silence_stream:// and file_string:// last what they
//     describe; speak lasts 60 ms per character (min 500 ms) and, as on a
//     real node, emits no PLAYBACK_* events. record writes a valid 8 kHz mono
//     16-bit WAV (a quiet tone while the caller "talks", silence after);
//     silence detection ends it Talk + silence_hits seconds in, and like
//     FreeSWITCH the trailing silence is not counted in record_ms.
//   - One application at a time per channel, as if every sendmsg carried
//     event-lock: FreeSWITCH may nest a non-event-locked step inside a
//     running playback; Switchyard always waits for EXECUTE_COMPLETE, so the
//     difference is not observable there. A sendmsg hangup interrupts the
//     running application on the next tick (transcript 05).
//   - Early media never wins a bridge (the bridge waits for an answer, as
//     with ignore_early_media=true); the originate API does return on early
//     media unless ignore_early_media=true, as FreeSWITCH does (transcript 04).
//   - Event order across channels is deterministic (one scheduler); the
//     per-channel order matches FreeSWITCH, the interleaving of different
//     channels may differ (FreeSWITCH runs a thread per session).
//   - CHANNEL_STATE / CHANNEL_CALLSTATE are fired once per transition
//     (FreeSWITCH fires a few more); CODEC, CALL_UPDATE, PRESENCE_IN,
//     RECV_INFO and PRIVATE_COMMAND are not emitted. The linger notice always
//     follows CHANNEL_HANGUP_COMPLETE (FreeSWITCH sometimes sends it right
//     after CHANNEL_HANGUP of a bridged leg, transcript 07).
//   - Variables are the loopback / SIP subset the captures show; no SDP, RTP
//     or codec-negotiation variables. Loopback legs carry no sip_* variables
//     (as on a real node); SIP-like legs (sofia/…, user/) get sip_term_status
//     and friends.
//   - Not emulated: ACLs and userauth directories (the password is checked),
//     log streaming (log/nolog only acknowledge), session limits (Max-Sessions
//     is reported, not enforced), group_confirm, enterprise originate
//     (`:_:` is treated as `,`), hold, conferences, SIP registrations.
//     uuid_transfer is minimal (extension through the dialplan, or
//     'app:arg,...' inline); `myevents <uuid>` on an inbound connection binds
//     it to the channel like an outbound session (it gets the disconnect
//     notice at hang-up).
//
// # Implementation
//
// All channel and subscription state lives under one mutex. One scheduler
// goroutine runs every timer (media ticks, rings, playback ends, timeouts,
// heartbeats) under it, so event order is deterministic and there is no
// goroutine per channel or per event (about 2.5 KB of heap per idle
// channel). Each TCP connection has one reader goroutine; frames are queued
// on the connection and written by a writer goroutine that exists only
// while there is something to write. Events are rendered once per format and
// shared by every connection that receives them.
package fsim
