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
// are simulated). Tick is real time: a sendmsg step that reaches a
// channel with nothing to run starts on its next media tick (DefaultTick
// = 20 ms, as measured on a real node); steps queued behind a running one
// start as it ends, back to back, as FreeSWITCH parses a channel's
// private events (on a real node a menu sent behind a greeting started in
// the event timestamp the greeting ended in, 98 calls of 100). Tick 0
// services them all at once, for fast tests.
//
// # The dialplan and the test phone network
//
// A channel that runs the dialplan (the -b half of loopback/<n> and of
// sofia/<profile>/<n>@host, or a leg sent to an extension by originate or
// uuid_transfer) is routed by its destination number:
//
//	+15550100001 … 099   ring_ready, sleep 1000, answer, playback of an endless 350 Hz tone
//	+15550100101 … 199   respond 486, hangup USER_BUSY               (busy; SIP 486 on SIP legs)
//	+15550100201 … 299   ring_ready, sleep 300000, hangup NO_ANSWER  (rings "forever")
//	+15550100301 … 399   hangup CALL_REJECTED                        (rejected; SIP 603)
//	+15550100401 … 499   ring_ready, sleep 1000, answer, sleep NN000, hangup  (NN = last two digits)
//	ansNNNN, noanswer, busy, rejectCAUSE, park, sockNNNN   the lab destinations of the reference transcripts
//	anything else        set switchyard_exophone=<n>, set continue_on_fail=true,
//	                     set hangup_after_bridge=false, socket <SocketAddr> async full
//	                     (a managed number, as dialplan/public/00_switchyard.xml) — except for a
//	                     loopback leg dialled by bridge, which answers like 0001…0099
//
// The test numbers first unset switchyard_detached (the -b half of a
// loopback pair inherits it from the dial string) and set
// playback_terminators=none and sleep_eat_digits=true: the actions of
// freeswitch-conf/dialplan/switchyard_testnet.xml.
//
// Numbers match with or without '+'. sofia/<profile>/[sip:]<number>@host
// (e.g. the node's switchyard_testnet profile) is a SIP self-call: the far
// half runs the same dialplan, so busy gives USER_BUSY with
// sip_term_status 486, rejected CALL_REJECTED with 603, on the leg that
// receives the response (recv_refuse). The switchyard_testnet profile
// takes the L16 codec of a loopback caller (freeswitch-conf); through any
// other profile a leg bridged from a loopback leg is refused with 488
// INCOMPATIBLE_DESTINATION unless its absolute_codec_string (or
// codec_string) offers PCMU/PCMA, as the node did with PCMU,PCMA prefs.
// An unknown profile (Config.SIPProfiles) fails INVALID_PROFILE. Far ends reached through
// sofia/gateway/<gw>/<n>, user/<n> and null/<x> are single channels that
// behave the same way without running applications (SIP 180, 200, 486, 603;
// sip_term_status set). error/<CAUSE> fails at once and, like an unknown
// SIP profile, creates no channel: no event (the profile case sends one
// bare CHANNEL_DESTROY for a pre-assigned origination_uuid), no entry in
// originate_causes, last_bridge_hangup_cause unchanged.
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
//     LOSE_RACE, ORIGINATOR_CANCEL, loopback/SIP pair cause propagation
//     (but a parked half whose bridged partner is uuid_killed ends
//     NORMAL_CLEARING first, as its park loses the link),
//     caller-ID flip of originated legs, billing variables of
//     CHANNEL_HANGUP_COMPLETE computed like switch_channel_set_timestamps.
//
// Also checked against the project's own 1.10.12 node (fsnode) with probes,
// and tested in node_test.go:
//
//   - uuid_break ends playback (FILE PLAYED, Playback-Status break), sleep,
//     speak and record, cuts a play_and_get_digits prompt, and stops a
//     running uuid_broadcast instead of the main application; it only
//     restarts endless_playback's file (PLAYBACK_STOP break, PLAYBACK_START),
//     with or without "all": endless_playback ends only at hang-up (PLAYBACK
//     ERROR) or on a file it cannot open, and takes no digits. "all" also
//     drops the queued, not yet started sendmsg/broadcast commands. A break
//     sent while nothing plays is forgotten.
//   - media the archive cannot play fails at once with FILE NOT FOUND and no
//     PLAYBACK_* event: local_stream:// (no mod_local_stream), http(s)://
//     (no mod_httapi / mod_http_cache), other schemes, missing or relative
//     paths; file_string:// skips such parts. tone_stream://,
//     silence_stream://, say: and existing files play (a WAV for its header's
//     length, Config.Media lists extra playable sources).
//     Playback-File-Type is only sent for tone_stream / local_stream; say:
//     is spoken (switch_ivr_speak_text) without PLAYBACK_* events.
//   - originate_causes holds one value as a plain string, two or more as an
//     array (ARRAY::a|:b, a JSON array in event-json).
//   - event-lock: while an event-locked sendmsg application runs, the
//     channel's private events (queued sendmsgs, uuid_broadcast) wait; for a
//     bridge that is the whole conversation. Without event-lock a broadcast
//     plays inside the running application.
//   - record writes only the audio that arrives (see below); RECORD_START
//     sets silence_hits_exhausted=false.
//   - a loopback -b half gets every originate variable of its -a half
//     (mod_loopback's __loopback_vars__), so it runs execute_on_answer too;
//     execute_on_answer's sched_hangup runs inline with CHANNEL_EXECUTE /
//     _COMPLETE right after CHANNEL_ANSWER.
//   - bridge B-leg order: every leg's CHANNEL_OUTGOING, then per leg
//     CREATE, ORIGINATE; CHANNEL_PROGRESS precedes CALLSTATE RINGING (an
//     outbound leg says DOWN on it); endpoint_disposition is set after
//     CHANNEL_ANSWER; an answered bridging channel goes RING_WAIT, then
//     ACTIVE before CHANNEL_BRIDGE.
//
// # What is simplified, and why
//
//   - No samples. Media is tracked as who sends audio to whom: a channel
//     sends while it plays something audible (a tone, file, speak, a
//     broadcast; silence_stream is silent) or, bridged, passes on what
//     reaches it from its peer; audio reaches a channel from the other half
//     of its loopback/SIP pair, or from a far-end test phone that answered.
//     record writes exactly the time audio arrived (a quiet 440 Hz tone in
//     an 8 kHz mono 16-bit WAV; nothing arrived: 44 bytes, record_ms 0);
//     silence detection ends it silence_hits seconds after audio last
//     arrived (or after the start). record_session runs for its whole time,
//     tone for the audio in or out, silence otherwise. PlaceCall's caller
//     "talks" into a record by playing a tone (CallScript.Talk) on its -a
//     leg, as orchestrator/testphone does with uuid_broadcast. Playback of
//     an existing non-WAV file lasts Config.PlaybackLength; speak lasts
//     60 ms per character (min 500 ms) and emits no PLAYBACK_* events.
//   - One sendmsg application at a time per channel: FreeSWITCH may nest a
//     non-event-locked step inside a running playback; the emulator runs it
//     after (only uuid_broadcast is nested, beside the running application).
//     A sendmsg hangup interrupts a running application that was not sent
//     with event-lock on the next tick (transcript 05); behind an
//     event-locked one it waits, like every private event.
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
//     after CHANNEL_HANGUP of a bridged leg, transcript 07). CHANNEL_UUID
//     (origination_uuid) and COMMAND (a queued broadcast) are not emitted.
//   - Variables are the loopback / SIP subset the captures show; no SDP, RTP
//     or codec-negotiation variables. Loopback legs carry no sip_* variables
//     (as on a real node); SIP-like legs (sofia/…, user/) get sip_term_status
//     and friends.
//   - A bridge on an answered channel plays transfer_ringback to it while
//     its legs ring: a TGML tone's first frequency is written into that
//     channel's record_session files for that time (music on hold).
//   - Not emulated: ACLs and userauth directories (the password is checked),
//     log streaming (log/nolog only acknowledge), session limits (Max-Sessions
//     is reported, not enforced), group_confirm other than
//     group_confirm_key=exec (a whisper: group_confirm_file runs on the
//     answered leg, CHANNEL_EXECUTE / _COMPLETE on it, and the leg wins when
//     it returns), enterprise originate
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
