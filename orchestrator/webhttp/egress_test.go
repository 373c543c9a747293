package webhttp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want string // "" for public; else a part of the reason
	}{
		// Public.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"192.0.1.1", ""},
		{"198.20.0.1", ""},
		{"223.255.255.255", ""},
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001::200e", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""},
		{"2002:808:808::1", ""},
		// IPv4.
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"100.64.0.1", "CGNAT"},
		{"100.127.255.254", "CGNAT"},
		{"127.0.0.1", "loopback"},
		{"127.255.0.9", "loopback"},
		{"169.254.169.254", "link-local"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.0.0.8", "IETF protocol assignments"},
		{"192.0.2.10", "documentation"},
		{"192.168.1.1", "private"},
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.255", "benchmarking"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.7", "documentation"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.255", "broadcast"},
		// IPv6.
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"fc00::1", "unique-local"},
		{"fd12:3456::1", "unique-local"},
		{"fec0::1", "site-local"},
		{"ff02::1", "multicast"},
		{"2001:db8::1", "documentation"},
		{"3fff::1", "documentation"},
		{"2001:2::1", "benchmarking"},
		{"2001:0:4136:e378::1", "Teredo"},
		{"100::1", "discard-only"},
		{"64:ff9b:1::a00:1", "local-use NAT64"},
		{"4000::1", "reserved"},
		// IPv6 carrying a refused IPv4 address.
		{"::ffff:127.0.0.1", "IPv4-mapped 127.0.0.1, which is loopback"},
		{"::ffff:169.254.169.254", "IPv4-mapped 169.254.169.254, which is link-local"},
		{"::ffff:10.1.2.3", "IPv4-mapped 10.1.2.3, which is private"},
		{"::127.0.0.1", "IPv4-compatible 127.0.0.1, which is loopback"},
		{"::10.0.0.1", "IPv4-compatible 10.0.0.1, which is private"},
		{"64:ff9b::7f00:1", "NAT64 127.0.0.1, which is loopback"},
		{"64:ff9b::a9fe:a9fe", "NAT64 169.254.169.254, which is link-local"},
		{"2002:7f00:1::1", "6to4 127.0.0.1, which is loopback"},
		{"2002:c0a8:101::1", "6to4 192.168.1.1, which is private"},
	} {
		got := Classify(netip.MustParseAddr(tc.addr))
		switch {
		case tc.want == "" && got != "":
			t.Errorf("Classify(%s) = %q, want public", tc.addr, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("Classify(%s) = %q, want it to say %q", tc.addr, got, tc.want)
		}
	}
	if got := Classify(netip.Addr{}); got == "" {
		t.Error("the zero Addr must not be public")
	}
}

func TestPolicyCheck(t *testing.T) {
	p := NewPolicy(netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"))
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"8.8.8.8:443", true},
		{"10.1.2.3:80", true},
		{"[::ffff:10.1.2.3]:80", true},
		{"[64:ff9b::a01:203]:80", true},
		{"[fd00::1]:80", true},
		{"[fe80::1%eth0]:80", false},
		{"11.0.0.1:80", true},
		{"127.0.0.1:80", false},
		{"172.16.0.1:80", false},
		{"169.254.169.254:80", false},
		{"[fc00::1]:80", false},
	} {
		err := p.Check(netip.MustParseAddrPort(tc.addr))
		if tc.ok != (err == nil) {
			t.Errorf("Check(%s) = %v, want allowed %v", tc.addr, err, tc.ok)
		}
		if err != nil && (!errors.Is(err, ErrEgressDenied) || !strings.Contains(err.Error(), tc.addr)) {
			t.Errorf("Check(%s) = %v: must wrap ErrEgressDenied and name the address", tc.addr, err)
		}
	}
	err := Policy{}.Check(netip.MustParseAddrPort("127.0.0.1:9000"))
	if err == nil || err.Error() != "egress denied: 127.0.0.1:9000 is loopback; see -egress-allow" {
		t.Errorf("error = %v", err)
	}
	var de *DeniedError
	if !errors.As(err, &de) || de.Addr != "127.0.0.1:9000" || de.Reason != "loopback" {
		t.Errorf("DeniedError = %+v", de)
	}
}

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy(" loopback, PRIVATE ,100.64.1.0/24,203.0.113.9 , 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"127.0.0.1", "::1", "10.9.9.9", "172.20.0.1", "192.168.0.1", "fd00::5",
		"100.64.1.200", "203.0.113.9", "2001:db8::7"} {
		if err := p.Check(netip.AddrPortFrom(netip.MustParseAddr(a), 80)); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	for _, a := range []string{"100.64.2.1", "203.0.113.10", "169.254.169.254", "fe80::1"} {
		if err := p.Check(netip.AddrPortFrom(netip.MustParseAddr(a), 80)); err == nil {
			t.Errorf("%s: allowed", a)
		}
	}
	if p, err := ParsePolicy(""); err != nil || len(p.Allowed()) != 0 || p.String() != "public addresses only" {
		t.Errorf("empty list: %v, %v", p, err)
	}
	if p, _ := ParsePolicy("10.1.2.3/8"); p.String() != "public addresses and 10.0.0.0/8" {
		t.Errorf("unmasked prefix: %v", p)
	}
	for _, bad := range []string{"10.0.0.0/33", "localhost", "10.0.0.0/8,nope", "fe80::1%eth0", "*"} {
		if _, err := ParsePolicy(bad); err == nil {
			t.Errorf("ParsePolicy(%q) accepted", bad)
		}
	}
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// secretServer is an HTTP server on 127.0.0.1 answering a secret.
func secretServer(t *testing.T) (*countingListener, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: l}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "the-secret")
	})}
	go func() { _ = srv.Serve(cl) }()
	t.Cleanup(func() { _ = srv.Close() })
	return cl, l.Addr().String()
}

// TestClientRefusesLoopback: the default client refuses loopback targets,
// whether named by address, by IPv4-mapped IPv6 address or by a host name
// that resolves to loopback, before any connection is made; a client
// allowing loopback gets through.
func TestClientRefusesLoopback(t *testing.T) {
	l, addr := secretServer(t)
	_, port, _ := net.SplitHostPort(addr)
	denied := Client(Policy{}, 0)
	for _, target := range []string{
		"http://" + addr + "/",
		"http://[::ffff:127.0.0.1]:" + port + "/",
		"http://localhost:" + port + "/",
		"http://0.0.0.0:" + port + "/",
	} {
		resp, err := denied.Get(target)
		if err == nil {
			_ = resp.Body.Close()
			t.Errorf("GET %s: got %s, want a refusal", target, resp.Status)
			continue
		}
		if !errors.Is(err, ErrEgressDenied) || !strings.Contains(err.Error(), "see -egress-allow") {
			t.Errorf("GET %s: %v, want ErrEgressDenied", target, err)
		}
	}
	if !strings.Contains(fmt.Sprint(getErr(denied, "http://"+addr+"/")), addr+" is loopback") {
		t.Errorf("the error must name the address and its kind: %v", getErr(denied, "http://"+addr+"/"))
	}

	allowed := Client(NewPolicy(Loopback()...), 0)
	resp, err := allowed.Get("http://localhost:" + port + "/")
	if err != nil {
		t.Fatalf("allowed: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(body) != "the-secret" {
		t.Fatalf("allowed: body %q", body)
	}
	// The listener accepts in arrival order: had any refused request
	// connected, it would have been accepted before this one.
	if n := l.accepted.Load(); n != 1 {
		t.Errorf("the listener accepted %d connections, want only the allowed one", n)
	}
}

func getErr(c *http.Client, u string) error {
	resp, err := c.Get(u)
	if err == nil {
		_ = resp.Body.Close()
	}
	return err
}

// TestClientRefusesUnreachable: targets no test can listen on (private,
// link-local, cloud metadata, IPv6 forms) are refused by the dialer's
// check, before a packet leaves.
func TestClientRefusesUnreachable(t *testing.T) {
	c := Client(Policy{}, 0)
	for _, target := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1/",
		"http://192.168.1.1:8080/",
		"http://100.64.0.1/",
		"http://[fe80::1]/",
		"http://[fd00::1]/",
		"http://[::ffff:169.254.169.254]/",
		"http://[64:ff9b::a9fe:a9fe]/",
		"https://[::1]/",
	} {
		err := getErr(c, target)
		if !errors.Is(err, ErrEgressDenied) {
			t.Errorf("GET %s: %v, want ErrEgressDenied", target, err)
		}
	}
}

// TestClientRefusesResolvedName: a host name is judged by the address it
// resolves to when the socket connects: the error names that address.
func TestClientRefusesResolvedName(t *testing.T) {
	l, addr := secretServer(t)
	_, port, _ := net.SplitHostPort(addr)
	err := getErr(Client(Policy{}, 0), "http://localhost:"+port+"/")
	if !errors.Is(err, ErrEgressDenied) || !strings.Contains(err.Error(), ":"+port+" is loopback") ||
		strings.Contains(err.Error(), "denied: localhost") {
		t.Errorf("GET localhost: %v, want ErrEgressDenied naming the resolved address", err)
	}
	if n := l.accepted.Load(); n != 0 {
		t.Errorf("the listener accepted %d connections", n)
	}
}

func TestClientNoProxyNoRedirects(t *testing.T) {
	c := Client(NewPolicy(Loopback()...), time.Minute)
	tr, ok := c.Transport.(*http.Transport)
	if !ok || tr.Proxy != nil {
		t.Fatalf("transport %T must use no proxy", c.Transport)
	}
	if c.Timeout != time.Minute {
		t.Errorf("timeout %s", c.Timeout)
	}
	srv := httptest.NewServer(http.RedirectHandler("http://169.254.169.254/", http.StatusFound))
	defer srv.Close()
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status %d, want the 302 itself", resp.StatusCode)
	}
}
