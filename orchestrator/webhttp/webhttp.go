// Package webhttp holds the rules every request Switchyard makes to a
// customer's server follows (passthru, programmable connect, dial events,
// status callbacks): redirects are never followed, a request's own
// timeout is bounded, connections obey the egress policy, and URLs are
// redacted before they are logged.
//
// # Egress policy
//
// A tenant chooses the URLs Switchyard asks, and some of what comes back
// is shown to the tenant (the start of a passthru or connect answer is
// kept in the call's request log). Without a rule, a URL naming
// 127.0.0.1, a private network or 169.254.169.254 (cloud metadata) would
// let a tenant read services that only Switchyard's host can reach. So,
// by default, a request may only connect to a public unicast address.
// Refused are loopback, unspecified, RFC 1918 private, shared (CGNAT
// 100.64.0.0/10), link-local, IETF protocol assignments (192.0.0.0/24),
// benchmarking, documentation, multicast, broadcast and reserved IPv4
// addresses; the IPv6 loopback, unspecified, unique-local (fc00::/7),
// link-local, site-local, multicast, discard-only, Teredo, documentation
// and benchmarking ranges and anything outside 2000::/3; and IPv6 forms
// that carry a refused IPv4 address (IPv4-mapped, IPv4-compatible, NAT64
// 64:ff9b::/96, 6to4 2002::/16). Classify names the kind of an address.
//
// An operator allows more with a Policy's prefixes (serve's
// -egress-allow, e.g. 10.0.0.0/8 for a CRM on the company network, or
// loopback for the local demo). Client builds the one kind of HTTP client
// these requests use. Its dialer checks the address each socket is about
// to connect to, after name resolution, so a host name that resolves, or
// re-resolves (DNS rebinding), to a refused address is refused as well;
// and it uses no proxy from the environment, which would connect on its
// behalf past the check. A refused connection fails with an error that
// wraps ErrEgressDenied and names the address and its kind, and that
// error is what the request's log row and the attempt's record show.
package webhttp

import (
	"net/http"
	"time"
)

// NoRedirects returns a copy of hc (http.DefaultClient when nil) that
// hands back a redirect as the answer instead of following it: a 302 is
// an answer in Exotel's contracts, and following one could lead a request
// anywhere.
func NoRedirects(hc *http.Client) *http.Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// Timeout is how long a request configured with seconds may take: def for
// 0 or less, never more than max.
func Timeout(seconds int, def, max time.Duration) time.Duration {
	if seconds <= 0 {
		return def
	}
	if seconds >= int(max/time.Second) {
		return max
	}
	return min(time.Duration(seconds)*time.Second, max)
}
