package api

import (
	"net/http/httptest"
	"testing"
)

func TestClientKey(t *testing.T) {
	proxies, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.7 ,fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		peer    string
		xff     []string
		trusted bool
		want    string
	}{
		{"peer", "203.0.113.9:5060", nil, false, "203.0.113.9"},
		{"forwarded header ignored without trusted proxies", "203.0.113.9:5060", []string{"198.51.100.1"}, false, "203.0.113.9"},
		{"forwarded header ignored from an untrusted peer", "203.0.113.9:5060", []string{"198.51.100.1"}, true, "203.0.113.9"},
		{"trusted proxy", "10.1.2.3:4000", []string{"198.51.100.1"}, true, "198.51.100.1"},
		{"rightmost untrusted hop wins", "10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.1, 192.0.2.7"}, true, "198.51.100.1"},
		{"several header lines", "10.1.2.3:4000", []string{"6.6.6.6", "198.51.100.1"}, true, "198.51.100.1"},
		{"hop with a port", "10.1.2.3:4000", []string{"198.51.100.1:1234"}, true, "198.51.100.1"},
		{"malformed hop stops at the proxy", "10.1.2.3:4000", []string{"198.51.100.1, junk"}, true, "10.1.2.3"},
		{"only proxies", "10.1.2.3:4000", []string{"10.9.9.9"}, true, "10.9.9.9"},
		{"trusted proxy without header", "10.1.2.3:4000", nil, true, "10.1.2.3"},
		{"IPv6 keyed by /64", "[2001:db8:1:2:aaaa::1]:443", nil, false, "2001:db8:1:2::/64"},
		{"same /64, same key", "[2001:db8:1:2:bbbb::9]:443", nil, false, "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6 is IPv4", "[::ffff:203.0.113.9]:80", nil, false, "203.0.113.9"},
		{"unparsable peer", "pipe", nil, false, "peer pipe"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			var trusted = proxies
			if !tc.trusted {
				trusted = nil
			}
			if got := clientKey(r, trusted); got != tc.want {
				t.Errorf("clientKey = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.0.0.0/8,, 192.0.2.7, 2001:db8::/32, 10.1.2.3/8 ")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "10.0.0.0/8"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, got[i], want[i])
		}
	}
	if none, err := ParseTrustedProxies(""); err != nil || len(none) != 0 {
		t.Errorf("empty: %v %v", none, err)
	}
	for _, bad := range []string{"proxy.example", "10.0.0.0/33", "10.0.0"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
