// Package webhttp holds the rules every request Switchyard makes to a
// customer's server follows (passthru, programmable connect, dial events,
// status callbacks): redirects are never followed, and a request's own
// timeout is bounded.
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
