// Package routing runs programmable connects: it asks the customer's URL
// what a Connect applet should dial (Planner, a call.Planner), and posts
// the dial events of the destinations it rings (Events, a
// call.DialEvents).
//
// # Plan requests
//
// A plan request is a GET to the applet's URL with the query parameters
// Exotel sends to flow URLs (passthru.Params), the header
// Exotel-Version: 1.0 and Accept: application/json. When the applet's URL
// gives no usable answer (a transport failure, a timeout, a status other
// than 2xx, a malformed body), its fallback URL is asked. Redirects are
// never followed, the time is bounded by the applet's timeout and the
// body by Config.MaxBody. Every request is logged against the call
// (store.CallRequests, kind "connect", outcome "success" or "failed").
//
// # Answer versions
//
// Exotel has two answer formats, both a JSON object sent as
// application/json (text/plain and no Content-Type are also accepted).
// They are told apart by the shape of "destination" alone, whatever
// Exotel-Version says:
//
// Version 1.0 (Programmable Connect): destination is an object whose
// "numbers" is an array of strings.
//
//	{"destination": {"numbers": ["+919800000001", "09800000002"]},
//	 "record": true, "recording_channels": "dual",
//	 "dial_passthru_event_url": "https://crm.example/events"}
//
// Version 1.1 (CCM Programmable Connect): destination is an array of
// objects, each with a "contact_uri" string.
//
//	{"destination": [{"contact_uri": "+919800000001"}, {"contact_uri": "sip:alice"}],
//	 "recording": {"record": true, "channels": "single"},
//	 "call_event_passthru_url": "https://crm.example/events"}
//
// A plain dial-whom URL (Exotel's Connect "Dial whom" URL) answers
// text/plain, or with no Content-Type, with one destination or a
// comma-separated (or one per line) list and nothing else: the plan is the
// applet's own settings with those destinations (Version "text").
//
// Anything else is an error naming the field. A destination is a phone
// number (+ and 3-15 digits, national forms included) or a sip: URI;
// duplicates (by store.ContactKey) are dropped. An empty list is not an
// error: nobody is dialled and the connect takes its no-answer output.
// Version 1.0's SIP trunk destination, {"trunk": "<TrunkID>"}, is the
// destination sip:<TrunkID> (see call.Endpoints: the trunk's gateway is
// dialled with the call's ExoPhone as the user), and a sibling
// "custom_params": "k1=v1&k2=v2" (up to 3) becomes SIP headers X-k1, X-k2
// on trunk legs.
//
// The other fields are optional and override the applet's own settings.
// The spellings of both versions are read in either (record and
// recording_channels or recording {record, channels};
// dial_passthru_event_url or call_event_passthru_url). Types are strict (a
// string where a number belongs is an error) and unknown fields are
// ignored, for forward compatibility; null is taken as absent. Parse reads
// an answer without the network; Plan adds the check that
// outgoing_phone_number is one of the account's ExoPhones.
//
// # Dial events
//
// Events.Post sends a GET per event of a dialled destination (Dial,
// Ringing, Answered, Terminal) with Exotel's dial passthru parameters. It
// never blocks the call: the request goes out in the background, a bounded
// number at a time, and is logged against the call with kind "dial_event".
package routing
