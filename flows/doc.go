// Package flows owns call flows ("apps"): the applet-graph document, its
// decoder and validator, and the pure interpreter that runs it.
//
// # Overview
//
// A flow is a JSON document: a start applet id and a map of applets, each with
// a type, a type-specific config and named outputs that point at other
// applets. [Load] decodes a document and validates it, returning every
// problem it finds with the applet id and field.
//
// The interpreter is [Step]:
//
//	Step(flow, state, event) -> (state, []Command)
//
// It is deterministic and does no I/O: it never reads the clock (time arrives
// inside every [Event]), never touches the network and never blocks. The
// orchestrator executes the returned [Command] values (play a prompt, collect
// digits, dial agents, record, fetch a URL, send a message, hang up) and feeds
// their results back as events.
//
// # Batches
//
// One call to Step returns a batch of commands. A batch holds zero or more
// fire-and-forget commands ([Send], an async [Fetch]) and ends with at most
// one blocking command, whose result event moves the flow on. [State.Await]
// says which event the flow is waiting for; any other event, except [HungUp],
// changes nothing but [State.Entered] (the applets the last Step entered,
// which every Step empties first).
//
// # Hang-up
//
// A caller can hang up at any point. The flow then stops all media and runs
// only the notification tail of where it was interrupted: after a voicemail or
// a finished conversation, the sms, email and passthru applets that follow
// still run; after anything else the flow simply ends.
//
// # Time zones
//
// Business-hours applets name an IANA zone. The zone is resolved once when
// the document is loaded (the zone database is read-only data, embedded with
// time/tzdata so that every machine gives the same answer); Step only
// converts the event's time into it.
package flows
