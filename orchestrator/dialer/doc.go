// Package dialer runs campaigns: it starts them when they are due,
// spawns the runs of recurring ones, calls their numbers at the pace they
// allow, takes in each call's outcome (retrying busy, unanswered and
// failed numbers as the campaign says) and ends them.
//
// # One dialer at a time
//
// Every Switchyard instance runs a Dialer, but only the holder of the
// "dialer" lease (store.Leases) dials: the others wait to take over. The
// holder renews the lease every second or so; an instance that dies loses
// it when it expires (Config.LeaseTTL), or at once when a process of the
// same deployment slot replaces it. Every write that decides who is
// called (starting a campaign, claiming a number for an attempt, taking
// in an outcome) is fenced by the lease in its transaction, so a holder
// that stalled past its lease and lost it cannot dial.
//
// # Nothing called twice, nothing skipped
//
// The dialing state lives in the database: a number's status, attempt
// count and next dial time (campaign_numbers), and one row per call placed
// (campaign_attempts, unique per number and attempt). To call a number,
// the dialer first claims it and writes the attempt with the call SID it
// will use, then places the call with that SID. So:
//
//   - a number is never called twice for one attempt: the claim is a
//     conditional update on the attempt count, and the attempt row is
//     unique;
//   - a call whose placing failed before its row existed is taken back
//     (store.Campaigns.Unbegin): the number is due again with the same
//     attempt, and since the call row is written before anything is sent
//     to a media node, no such call rang anyone;
//   - an attempt left by a dead instance without a call row is taken back
//     the same way; one with a call row ends with the call, which the
//     call core's reconciler closes if its instance died;
//   - an attempt's outcome is taken in from the call's final record, by
//     whichever instance leads, once (a conditional update).
//
// # Pacing
//
// A campaign dials at most Throttle calls a minute (or its account's
// rate, 60 by default), and its account's campaigns together at most the
// account's rate, with calls spaced evenly: the dialer keeps a next-slot
// time per campaign and per account and wakes at the earliest (slots it
// woke too late for are made up within a second, not later). Live calls
// are capped per campaign (MaxConcurrent, or the account's) and per
// account; a call counts from its claim until its outcome is taken in,
// which is never shorter than the call, so the cap holds across instances.
//
// # Dynamic campaigns
//
// A dynamic campaign (one list) calls the list's contacts as they are when
// it starts, then every few seconds takes in those added since, until its
// end_at: it does not end when its numbers are done.
//
// # Windows and do-not-call
//
// A number is called only inside its calling window (09:00-21:00 in the
// contact's zone, else the campaign's, unless the campaign sets another):
// a number due outside it is moved to the window's next opening, which
// takes no slot. Numbers on the account's do-not-call list are not
// called: they end failed-dnd, checked when they come due, so a number
// added to the list mid-campaign is not called either.
package dialer
