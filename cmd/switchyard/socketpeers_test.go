package main

import (
	"log/slog"
	"net/netip"
	"slices"
	"testing"
)

func TestSocketPeers(t *testing.T) {
	got, err := socketPeers(t.Context(), "10.1.0.0/16, 192.0.2.7,loopback", []string{"198.51.100.4:8021", "[2001:db8::9]:8021", "localhost:8021"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"10.1.0.0/16", "192.0.2.7/32", "127.0.0.0/8", "::1/128", "198.51.100.4/32", "2001:db8::9/128"} {
		if !slices.Contains(got, netip.MustParsePrefix(want)) {
			t.Errorf("peers %v lack %s", got, want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.1,nope"} {
		if _, err := socketPeers(t.Context(), bad, nil, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("-socket-allow %q was accepted", bad)
		}
	}
}
