package api

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr returns the address of the client that sent r: the TCP
// peer, unless the peer is one of the trusted proxies, in which case
// X-Forwarded-For is read from the right (each proxy appends the address
// it got the request from), skipping trusted proxies, up to the first
// address that is not one. X-Forwarded-For is never believed from anyone
// else: any client can send it. An entry that does not parse stops the
// walk at the last trusted hop.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	addr := parseHop(r.RemoteAddr)
	if !addr.IsValid() || !isTrusted(addr, trusted) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := parseHop(strings.TrimSpace(hops[i]))
		if !hop.IsValid() {
			return addr
		}
		addr = hop
		if !isTrusted(hop, trusted) {
			return hop
		}
	}
	return addr
}

// parseHop parses an address, with or without a port; invalid if neither.
func parseHop(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientKey is the key a client's failed authentications are counted
// under: its IPv4 address, or its IPv6 /64 (what one subscriber usually
// holds, so walking through the addresses of one network gains nothing).
func clientKey(r *http.Request, trusted []netip.Prefix) string {
	a := clientAddr(r, trusted)
	switch {
	case !a.IsValid():
		return "peer " + r.RemoteAddr
	case a.Is6():
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// ParseTrustedProxies parses a comma-separated list of addresses and CIDR
// prefixes (10.0.0.0/8, 192.0.2.7, fd00::/8) for Options.TrustedProxies.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an address or CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
