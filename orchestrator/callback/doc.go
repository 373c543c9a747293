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
//     callback ID, then marks the rows relayed. It runs when Notify says
//     there is something new and every PollInterval, which picks up rows
//     a crash left behind. The jobs are unique by callback ID, so a relay
//     that dies between queueing and marking does not queue a callback
//     twice.
//  3. Delivery. A River worker loads the callback, POSTs it
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
// # Order
//
// Callbacks of a call are numbered in the order their events happened,
// but deliveries run in parallel and retries reorder them: a receiver
// that cares should order by SequenceNumber.
package callback
