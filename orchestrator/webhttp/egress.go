package webhttp

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"time"
)

// ErrEgressDenied is wrapped by the error of every connection the egress
// policy refuses.
var ErrEgressDenied = errors.New("egress denied")

// DeniedError is a connection the egress policy refused: Addr is the
// address the socket was about to connect to, Reason what kind of address
// it is.
type DeniedError struct {
	Addr   string
	Reason string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("%v: %s is %s; see -egress-allow", ErrEgressDenied, e.Addr, e.Reason)
}

// Unwrap makes errors.Is(err, ErrEgressDenied) true.
func (e *DeniedError) Unwrap() error { return ErrEgressDenied }

// Policy decides which addresses a request to a customer's server may
// connect to: public unicast addresses always, others only inside one of
// its allowed prefixes. The zero value allows public addresses only.
type Policy struct {
	allow []netip.Prefix
}

// NewPolicy is the policy that also allows the given prefixes (masked to
// their length).
func NewPolicy(allow ...netip.Prefix) Policy {
	var p Policy
	for _, pfx := range allow {
		if pfx.IsValid() {
			p.allow = append(p.allow, pfx.Masked())
		}
	}
	return p
}

// Loopback is the prefixes of the shorthand "loopback": 127.0.0.0/8 and
// ::1/128.
func Loopback() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// Private is the prefixes of the shorthand "private": RFC 1918's
// 10.0.0.0/8, 172.16.0.0/12 and 192.168.0.0/16, and IPv6 unique-local
// fc00::/7.
func Private() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("fc00::/7")}
}

// ParsePolicy reads a comma-separated allow-list: CIDR prefixes
// (10.0.0.0/8, fd00::/8), single addresses, and the words loopback and
// private (see Loopback and Private). An empty list is the default policy.
func ParsePolicy(list string) (Policy, error) {
	var (
		allow []netip.Prefix
		errs  []error
	)
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		switch strings.ToLower(item) {
		case "":
			continue
		case "loopback":
			allow = append(allow, Loopback()...)
			continue
		case "private":
			allow = append(allow, Private()...)
			continue
		}
		if pfx, err := netip.ParsePrefix(item); err == nil {
			allow = append(allow, pfx)
			continue
		}
		if ip, err := netip.ParseAddr(item); err == nil && ip.Zone() == "" {
			allow = append(allow, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		errs = append(errs, fmt.Errorf("%q is not a CIDR prefix, an address, loopback or private", item))
	}
	if len(errs) > 0 {
		return Policy{}, errors.Join(errs...)
	}
	return NewPolicy(allow...), nil
}

// Allowed is the prefixes the policy allows besides public addresses.
func (p Policy) Allowed() []netip.Prefix { return slices.Clone(p.allow) }

// String describes the policy, for logs.
func (p Policy) String() string {
	if len(p.allow) == 0 {
		return "public addresses only"
	}
	s := make([]string, len(p.allow))
	for i, pfx := range p.allow {
		s[i] = pfx.String()
	}
	return "public addresses and " + strings.Join(s, ", ")
}

// Check returns nil if the policy allows connecting to addr, else a
// *DeniedError.
func (p Policy) Check(addr netip.AddrPort) error {
	ip := addr.Addr().WithZone("")
	reason, embedded := classify(ip)
	if reason == "" || p.allows(ip) || (embedded.IsValid() && p.allows(embedded)) {
		return nil
	}
	return &DeniedError{Addr: addr.String(), Reason: reason}
}

func (p Policy) allows(ip netip.Addr) bool {
	for _, pfx := range p.allow {
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}

// control checks the address a socket is about to connect to: it runs
// after name resolution, for every address tried, so a name that resolves
// (or re-resolves) to a denied address is refused too.
func (p Policy) control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return &DeniedError{Addr: address, Reason: "not a TCP address (" + network + ")"}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &DeniedError{Addr: address, Reason: "not an IP address and port"}
	}
	return p.Check(ap)
}

// Client is the HTTP client for requests to customers' servers: it
// follows no redirects (NoRedirects), connects only where p allows (the
// check runs on the socket's resolved address at connect time), never
// goes through a proxy from the environment (a proxy would connect on
// its behalf, unchecked), and gives a request at most timeout (0: no
// bound of its own; callers bound each request with its context).
func Client(p Policy, timeout time.Duration) *http.Client {
	return NoRedirects(&http.Client{Transport: p.transport(), Timeout: timeout})
}

// transport is http.DefaultTransport's settings with p's dialer and no
// proxy.
func (p Policy) transport() *http.Transport {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{ForceAttemptHTTP2: true, MaxIdleConns: 100, IdleConnTimeout: 90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second, ExpectContinueTimeout: time.Second}
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: p.control}
	t.Proxy = nil
	t.OnProxyConnectResponse = nil
	t.GetProxyConnectHeader = nil
	t.DialContext = d.DialContext
	t.DialTLSContext = nil
	return t
}

// Classify returns what kind of address ip is when it is not a public
// unicast address (loopback, private (RFC 1918), link-local, ...), or ""
// when it is. IPv4 addresses embedded in IPv6 ones (IPv4-mapped,
// IPv4-compatible, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by the
// IPv4 address.
func Classify(ip netip.Addr) string {
	reason, _ := classify(ip.WithZone(""))
	return reason
}

// rule is a range of addresses that is not public and why.
type rule struct {
	prefix netip.Prefix
	reason string
}

func rules(pairs ...string) []rule {
	out := make([]rule, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, rule{netip.MustParsePrefix(pairs[i]), pairs[i+1]})
	}
	return out
}

// v4Rules are the IPv4 ranges that are not public unicast, first match
// wins (broadcast before reserved).
var v4Rules = rules(
	"0.0.0.0/8", "unspecified",
	"10.0.0.0/8", "private (RFC 1918)",
	"100.64.0.0/10", "shared address space (CGNAT, RFC 6598)",
	"127.0.0.0/8", "loopback",
	"169.254.0.0/16", "link-local (cloud metadata)",
	"172.16.0.0/12", "private (RFC 1918)",
	"192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)",
	"192.0.2.0/24", "documentation (TEST-NET-1)",
	"192.168.0.0/16", "private (RFC 1918)",
	"198.18.0.0/15", "benchmarking (RFC 2544)",
	"198.51.100.0/24", "documentation (TEST-NET-2)",
	"203.0.113.0/24", "documentation (TEST-NET-3)",
	"224.0.0.0/4", "multicast",
	"255.255.255.255/32", "broadcast",
	"240.0.0.0/4", "reserved (240.0.0.0/4)",
)

// v6Rules are the IPv6 ranges that are not public unicast and carry no
// IPv4 address to judge by, first match wins.
var v6Rules = rules(
	"::/128", "unspecified",
	"::1/128", "loopback",
	"64:ff9b:1::/48", "local-use NAT64 (RFC 8215)",
	"100::/64", "discard-only (RFC 6666)",
	"2001::/32", "Teredo (RFC 4380)",
	"2001:2::/48", "benchmarking (RFC 5180)",
	"2001:db8::/32", "documentation",
	"3fff::/20", "documentation",
	"fc00::/7", "unique-local",
	"fe80::/10", "link-local",
	"fec0::/10", "site-local (deprecated)",
	"ff00::/8", "multicast",
)

// IPv6 forms that carry an IPv4 address.
var (
	v4Compatible = netip.MustParsePrefix("::/96")
	nat64        = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour    = netip.MustParsePrefix("2002::/16")
	globalV6     = netip.MustParsePrefix("2000::/3")
)

// classify is Classify for an address without a zone; embedded is the
// IPv4 address an IPv6 address carries, when it carries one.
func classify(ip netip.Addr) (reason string, embedded netip.Addr) {
	switch {
	case !ip.IsValid():
		return "not an address", netip.Addr{}
	case ip.Is4():
		return match(v4Rules, ip), netip.Addr{}
	case ip.Is4In6():
		v4 := ip.Unmap()
		return inner("IPv4-mapped", v4), v4
	}
	if r := match(v6Rules, ip); r != "" {
		return r, netip.Addr{}
	}
	b := ip.As16()
	switch {
	case v4Compatible.Contains(ip):
		v4 := netip.AddrFrom4([4]byte(b[12:16]))
		return inner("IPv4-compatible", v4), v4
	case nat64.Contains(ip):
		v4 := netip.AddrFrom4([4]byte(b[12:16]))
		return inner("NAT64", v4), v4
	case sixToFour.Contains(ip):
		v4 := netip.AddrFrom4([4]byte(b[2:6]))
		return inner("6to4", v4), v4
	case !globalV6.Contains(ip):
		return "reserved (outside 2000::/3)", netip.Addr{}
	}
	return "", netip.Addr{}
}

// inner judges an IPv6 address by the IPv4 address v4 it carries in the
// given form.
func inner(form string, v4 netip.Addr) string {
	if r := match(v4Rules, v4); r != "" {
		return fmt.Sprintf("%s %s, which is %s", form, v4, r)
	}
	return ""
}

func match(rs []rule, ip netip.Addr) string {
	for _, r := range rs {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	return ""
}
