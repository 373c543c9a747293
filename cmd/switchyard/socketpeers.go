package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"
)

// socketPeers returns the addresses the socket server takes calls from:
// every node's (an address as given, a host name as it resolves now) and
// what allow adds (-socket-allow: CIDRs, IPs or "loopback").
//
// A node that reaches the socket port from another address than the one
// its event socket is dialled at (NAT, a second interface) needs that
// address in -socket-allow.
func socketPeers(ctx context.Context, allow string, nodes []string, log *slog.Logger) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(allow, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		ps, err := parsePeer(item)
		if err != nil {
			return nil, fmt.Errorf("-socket-allow: %w", err)
		}
		out = append(out, ps...)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, node := range nodes {
		host, _, err := net.SplitHostPort(node)
		if err != nil {
			host = node
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		if host == "localhost" {
			out = append(out, loopback...)
			continue
		}
		ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
		if err != nil {
			log.Error("socket server: a node's name does not resolve; its calls are refused until it does and serve restarts (or add its address to -socket-allow)",
				"node", node, "err", err)
			continue
		}
		for _, ip := range ips {
			out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
		}
	}
	return out, nil
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// parsePeer reads one -socket-allow item.
func parsePeer(s string) ([]netip.Prefix, error) {
	if strings.EqualFold(s, "loopback") {
		return loopback, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR: %w", s, err)
		}
		return []netip.Prefix{p.Masked()}, nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an address, a CIDR or \"loopback\"", s)
	}
	return []netip.Prefix{netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())}, nil
}
