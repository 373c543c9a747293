// Package api is Switchyard's HTTP surface, built on Echo: binding,
// validation, authentication, error mapping and Exotel's response shapes
// (XML and JSON). It holds no business rules: handlers call the
// orchestrator and the store and translate the results.
//
// # The request path
//
// Every request goes through, in order:
//
//   - stripJSONSuffix (before routing): a v1 path's .json suffix is
//     removed and remembered, so each v1 route is declared once;
//   - requestID, recoverPanic (a panic is a logged 500, never a crash),
//     limitBody (MaxBody; larger bodies are 413) and the request's
//     deadline (RequestTimeout); a CSV upload to a list has its own,
//     larger, cap and deadline (limitBodies, deadlines in v2.go);
//   - inputHygiene (hygiene.go): the path, the query string, the
//     Basic-auth user and password and the body (form, multipart, JSON;
//     percent-encoding and escapes decoded) must be valid UTF-8 without
//     NUL or other control characters (tab, CR and LF pass inside bodies),
//     or the request is 400. The body is read once, under the cap, and
//     handed on whole;
//   - the router: a known path with another method is 405 with an Allow
//     header (authentication is set on each route, not on Echo groups,
//     whose catch-all routes would turn that into 404);
//   - authenticate (auth.go), on account routes: a client address over its
//     failed-authentication budget is 429; then HTTP Basic credentials
//     (401), the account's request budget (429, code 10724 on v2/v3, with
//     Retry-After), and the account of the path (403). Pre-signed
//     recording URLs skip it (recordings.go). The limits (ratelimit.go)
//     are token buckets kept in memory: they hold per instance.
//
// Every error, whoever returns it, is answered by handleError (errors.go)
// in the format of its API family: v1's RestException (XML or JSON), the
// v2/v3 envelope with error_data, or plain JSON.
package api
