// Package metrics is Switchyard's Prometheus instrumentation: one Set per
// process, built by New on a registry of its own (never the client
// library's global one), served by Set.Handler, and handed to the packages
// that record into it through their Config structs (a Metrics field).
//
// Every method is safe on a nil *Set and then does nothing, so a package
// or a test built without metrics pays a nil check and needs no change.
// This package imports only the Prometheus client and the standard
// library: any package may import it without a cycle.
//
// # Labels
//
// A label value is never a call SID, a phone number, a URL, an account or
// anything else a caller or a tenant chooses: every label below has a
// fixed set of values, or a set fixed by the deployment's configuration,
// and a value outside its set is recorded as "other" (or "OTHER" for
// hangup causes). The methods enforce this, whatever their callers pass.
//
// # Metrics
//
// Build:
//
//   - switchyard_build_info{version}: always 1; version is the binary's.
//     One value per process.
//
// Calls (package call):
//
//   - switchyard_calls_started_total{direction}: calls that got their
//     record: an inbound call once it is routed to a flow, an API call
//     once Place wrote it. direction is Exotel's: inbound, outbound-api,
//     outbound-dial (campaign calls are placed through the API path and
//     are recorded as outbound-api today).
//   - switchyard_calls_ended_total{direction,status,cause}: calls whose
//     final record was written here (by the call's runtime, by Place when
//     the first leg never answered, or by the reconciler closing a lost
//     call). status is the final Exotel status: completed, busy,
//     no-answer, failed, canceled. cause is the FreeSWITCH hangup cause
//     (or Switchyard's own SWITCHYARD_* causes); a value that does not
//     match ^[A-Z_]{1,40}$ is OTHER. FreeSWITCH's causes are a fixed
//     table of about a hundred names.
//   - switchyard_calls_detached_total: calls that let go of their socket
//     once bridged for good (the flow has nothing more for the caller):
//     the node stops serving the socket, and the call's last events come
//     through the node's connection (serve -detach).
//   - switchyard_calls_handed_off_total: calls that let go of their socket
//     before their first command and ran over the node's connection from
//     then on (serve -control node).
//   - switchyard_parked_calls_total{outcome}: calls a node's dialplan
//     parked for this instance (serve -control park): taken; late (its
//     fallback had sent it down the socket path first); passed (sent
//     down the socket path at once, at capacity or draining); unhandled
//     (no node connection to take it on).
//   - switchyard_calls_live: calls running on this instance now (a gauge
//     read at scrape time from the function given to LiveCalls).
//   - switchyard_applet_steps_total{applet}: steps of the flow
//     interpreter that acted (an event the flow waited for, or the start
//     of the call, that produced commands), by the type of the applet
//     the flow is in after the step.
//   - switchyard_applet_step_seconds{applet}: from an event's arrival at
//     the call to FreeSWITCH acknowledging the next blocking command of
//     the flow (one ESL round trip included), by the applet that issued
//     it. applet is a flow schema type (greeting, ivr, gather, connect,
//     voicemail, transfer, passthru, business_hours, sms, email, hangup,
//     switch); anything else is other. Buckets 1 ms to 5 s.
//   - switchyard_applet_dispatch_seconds{applet}: the same step up to
//     the moment the command is written to the node's socket, before
//     FreeSWITCH reads it: Switchyard's own part (waiting for the call's
//     goroutine, the flow, the store's lookups, the write). Buckets
//     0.25 ms to 1 s.
//
// FreeSWITCH's Event Socket (package esl):
//
//   - switchyard_esl_command_seconds{node}: the round trip of every
//     command sent on an ESL connection, from writing it to reading its
//     reply, timeouts included (an outbound socket's connect handshake
//     counts; an inbound connection's authentication does not). Buckets
//     0.5 ms to 5 s (esl.DefaultTimeout).
//   - switchyard_esl_command_errors_total{node}: commands that failed: a
//     reply that timed out, a connection closed before or during the
//     command, a -ERR (or -USAGE) reply; and outbound sockets' connect
//     handshakes that failed (the socket closed first).
//     node is, on the inbound connection to a node, that node's
//     configured name (its host:port, from -fs); on an outbound socket
//     (FreeSWITCH connected to Switchyard for a call), the peer's address
//     without its port. Peers are only the configured nodes and the
//     addresses of -socket-allow: anyone else is cut before a connection
//     exists, so never gets a label.
//   - switchyard_socket_calls_refused_total{reason}: calls the
//     outbound-socket server closed before their handler ran. reason:
//     at_capacity (ServerConfig.MaxCalls), draining (the instance is
//     shutting down, or restricted to the calls it placed itself),
//     not_allowed (a peer outside ServerConfig.Peers).
//
// Nodes (fed by the function given to Nodes, read at scrape time; node is
// the node's configured name):
//
//   - switchyard_node_up{node}: 1 while its inbound connection is up.
//   - switchyard_node_drained{node}: 1 while it is drained (no new calls).
//   - switchyard_node_sessions{node}, switchyard_node_max_sessions{node}:
//     Session-Count and Max-Sessions of its last HEARTBEAT.
//   - switchyard_node_heartbeat_age_seconds{node}: since its last HEARTBEAT.
//   - switchyard_node_idle_cpu_percent{node}: Idle-CPU of its last HEARTBEAT.
//   - switchyard_node_restarts_total{node}: changes of its Core-UUID seen
//     (NodeRestarted).
//
// Store write queue (package store, Queue):
//
//   - switchyard_store_write_seconds: one transaction of the queue, from
//     its begin to its commit (or rollback), retries each counted.
//     Buckets 1 ms to 10 s (the queue's transaction timeout).
//   - switchyard_store_writes_total: writes finished, committed or
//     rejected.
//   - switchyard_store_write_errors_total: writes rejected for good (the
//     store refused them, or they kept failing while the database
//     answered): their data is lost.
//   - switchyard_store_queue_depth: writes waiting for a transaction.
//
// Status callbacks (package callback):
//
//   - switchyard_callback_attempts_total{outcome}: runs of a delivery job.
//     outcome: delivered (2xx), retry (failed; it will be tried again),
//     failed (failed for good: its last attempt, or a URL nothing can be
//     sent to), interrupted (cut by a hard stop; back in the queue without
//     using up an attempt), deferred (the fairness gate turned it away:
//     no request was made, no attempt used up).
//   - switchyard_callback_seconds{outcome}: one HTTP attempt, for the
//     attempts that sent a request, by the same outcome. Buckets 10 ms to
//     60 s.
//   - switchyard_callbacks_pending: the backlog of the cluster's queue:
//     callbacks not yet delivered or failed (due, in flight, turned away
//     or waiting to retry), counted at most every few seconds. Every
//     instance shares the queue and reports the same backlog: aggregate
//     with max, not sum.
//
// Requests to tenants' servers (packages passthru and routing):
//
//   - switchyard_http_request_seconds{kind,outcome}: one request. kind:
//     passthru, greeting, gather, sms (a flow's requests: a Passthru, and
//     the dynamic greeting, gather and SMS), connect (a programmable
//     connect's dial-whom request, each URL asked), dial_event (a
//     connect's dial events). outcome: ok (2xx), http_error (any other
//     status), timeout, denied (the egress policy refused the
//     connection), error (anything else without a status). Buckets 10 ms
//     to 60 s.
//
// Campaigns (package dialer):
//
//   - switchyard_campaign_calls_placed_total: campaign calls placed (the
//     dial rate is rate() of it).
//   - switchyard_campaign_calls_failed_to_place_total: placements the
//     call runtime refused (no media node, draining, the campaign's
//     ExoPhone or flow gone); the number is due again later or the
//     campaign fails.
//
// API (package api, RequestMetrics):
//
//   - switchyard_api_requests_total{method,route,code}: requests answered.
//   - switchyard_api_request_seconds{method,route}: their duration.
//     Buckets 1 ms to 30 s.
//     method is an HTTP method (GET, HEAD, POST, PUT, PATCH, DELETE,
//     OPTIONS; anything else is other), route the route's template as
//     declared (e.g. /v1/Accounts/:sid/Calls/connect), or unmatched when
//     no route matched, so unknown paths never make a label value. code
//     is the HTTP status.
//
// Instance:
//
//   - switchyard_instance_draining: 1 once the instance is draining
//     (SetDraining).
//
// Plus the Go runtime's (go_*) and the process's (process_*) collectors.
package metrics
