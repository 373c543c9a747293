// Package campaign holds the rules of outbound campaigns that the API,
// the command line and the dialer share: what a campaign request may say
// and what it becomes (Spec, Build, Update), when a number may be called
// (calling windows in the contact's zone, retries, recurring runs), and
// the callbacks a campaign sends (Exotel's call_status_callback,
// call_schedule_callback and status_callback).
//
// It does no I/O of its own besides the lookups a Spec needs (Lookup);
// the dialer (package dialer) runs campaigns, the store keeps them.
package campaign
