// Package callback delivers Exotel-style status callbacks at least once.
//
// # Flow
//
//  1. Outbox. The change of a call that produces a callback and the
//     callback itself commit in one transaction: the runtime passes a
//     builder (Builder.Terminal to store.CallFinal.Outbox,
//     Builder.Answered to store.Calls.Answer) and the store writes the
//     rows it returns to the callbacks table, numbering them per call.
//     A callback row is a snapshot: the URL, the content type and the
//     fields as an ordered JSON object.
//  2. Relay. A loop of the Service moves outbox rows not yet relayed into
//     a River queue, one job per callback whose arguments are the
//     callback ID and its route (account and destination, for the gate),
//     then marks the rows relayed. It runs when Notify says there is
//     something new (after 25 ms, so that one pass moves the callbacks
//     of the calls ending meanwhile: woken by every call's end, it moved
//     one or two a pass) and every PollInterval, which picks up rows a
//     crash left behind. The jobs are unique by callback ID, so a relay that
//     dies between queueing and marking does not queue a callback twice.
//  3. Delivery. A River worker asks the gate whether the callback may go
//     now (see Fairness); if not, it snoozes the job, which uses up no
//     attempt. If so, it loads the callback, POSTs it
//     (multipart/form-data with Legs flattened PHP-style, or JSON), adds
//     SequenceNumber and the X-Switchyard-Sequence and X-Switchyard-Event
//     headers, and records the attempt. A 2xx delivers it; anything else
//     is retried with Config.Backoff until Config.MaxAttempts, after which
//     the callback is marked failed. A URL that is not http(s) fails at
//     once. River rescues jobs of a killed process after
//     Config.RescueAfter, and Stop lets deliveries in flight finish (or
//     puts them back in the queue), so a restart loses nothing; a callback
//     may then arrive twice, which is what at least once means: receivers
//     can use CallSid and SequenceNumber to drop repeats.
//
// # Why an outbox in front of River
//
// River can insert a job in the caller's transaction, which would make
// the relay unnecessary, but not in this one: the store's transactions are
// GORM's, that is database/sql transactions, and River's PostgreSQL driver
// (riverpgxv5) only joins pgx transactions. River's database/sql driver
// for PostgreSQL (riverdatabasesql) is not available to this build. So
// the store writes the callback next to the call, in its own table, and
// the relay hands it to River afterwards: the hand-over is at least once,
// and River's unique jobs keep it from queueing duplicates.
//
// On SQLite River and GORM share the store's single connection (River's
// SQLite driver wants one connection as well); on PostgreSQL River uses
// the store's pgx pool. River keeps its own tables (river_job and
// friends), which Start creates or migrates with rivermigrate.
//
// # Fairness
//
// Receivers are the tenants' servers, and some are slow or hang: an
// attempt holds its worker until the receiver answers or Config.Timeout
// (15 s) passes. With workers taken from the queue in order, 30 callbacks
// to a receiver that never answers took all 10 and delayed another
// tenant's callback from 2 s to 46 s. So a due callback goes out only if
// the gate (gate.go) has room for it; otherwise the worker moves on to the
// next one, and the callback is snoozed. The gate's limits, all on
// attempts in flight:
//
//   - Per destination (host:port of the URL), Config.HostConcurrency (4):
//     the unit a slow server is, whichever accounts send to it. After
//     each timeout in a row the destination gets half as many, down to
//     one, and all of them back when it answers. Once it is down to one,
//     the callbacks beyond that attempt (the probe) fail their attempt
//     without being sent ("not sent: ..."), back off and, after
//     Config.MaxAttempts, fail, as they would have timing out one after
//     another, but without holding workers; snoozing them instead would
//     keep a dead destination's backlog circling in the queue for ever.
//   - Per account, Config.AccountConcurrency (4 with 10 workers): a
//     tenant with many destinations, hanging or not, takes at most that
//     many workers.
//   - Probation: destinations not known to answer promptly (not seen
//     since the process started or for 10 minutes, or whose last attempt
//     timed out, failed to connect, answered after more than Timeout/4,
//     or has been running longer than that) share half the workers. The
//     other half is always there for destinations that answer, however
//     many accounts have a hanging one: per-account limits alone do not
//     stop 100 tenants with a hanging receiver each. A new destination
//     starts on probation and leaves it with its first prompt answer.
//   - Config.Workers attempts in flight in all.
//
// A callback turned away by its destination's or its account's limit
// while that limit's attempts end within 50 ms (a receiver that answers
// at once) waits up to a second for a slot instead: deferred, a crowd
// behind such a receiver came back one minimum delay per slot apart, so
// one receiver got about 4 callbacks a second however fast it answered
// (the terminal callbacks of 1,000 Calls/connect placed 50 at a time
// arrived over 226 s after the last call ended; now within 8 s). A slow,
// hanging or new receiver is never waited for.
//
// A snoozed callback comes back when its limit should have room: each
// limit keeps a virtual clock that the callbacks it turns away queue on,
// one slot's expected length after another (the attempts' average
// duration, or the age of the oldest one in flight, over the attempts
// allowed), at least 250 ms and at most 5 minutes from now. The 250 ms
// is a floor on the wait, not on the slot's expected length: a burst
// turned away by a receiver whose attempts are young (none ended yet, or
// a momentary stall) comes back together after 250 ms, when its pace is
// known, instead of a quarter of 250 ms apart (which spread 200 of 1,000
// calls' callbacks over 12 s at 16 a second). A crowd
// waiting on a busy limit is thus snoozed about once per callback rather
// than at every fetch, and one that must wait longer comes back every 5
// minutes, so it goes out within minutes of its destination answering
// again. River runs 4 jobs per worker at once (the bound on the
// delivery goroutines): the jobs beyond Config.Workers are the ones the
// gate turns away in a few milliseconds, and the more of them a fetch
// brings, the sooner the queue gets past a crowd of snoozed callbacks to
// a callback that can go.
//
// River stays the queue, and durable: a snoozed job is a job whose
// scheduled time moved, a crash loses nothing, and at least once holds as
// before. River's own per-key concurrency limits are not in its open
// source edition, and holding a worker until a slot frees would again let
// slow receivers take every worker; snoozing is skipping. The gate's
// state is in memory and per process: after a restart every destination
// starts on probation, and each instance of a cluster applies the limits
// on its own. Destinations known to answer that start hanging together
// (an outage shared by many tenants) can still take every worker, for
// one Timeout: their next attempts are on probation.
//
// # Order
//
// Callbacks of a call are numbered in the order their events happened,
// but deliveries run in parallel, and retries and the gate reorder them:
// a receiver that cares should order by SequenceNumber.
//
// # Metrics
//
// With Config.Metrics, every run of a delivery job is counted by what
// became of its callback (delivered, retry, failed, interrupted, or
// deferred by the gate) and its HTTP request, if one was sent, timed; the
// relay counts the queue's unfinished jobs, the backlog, at most every
// PendingEvery.
package callback
