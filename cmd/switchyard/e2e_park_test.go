package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/parking"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// TestServeParkedCallsMoveToTheStandby: two instances with -control park
// on one node and one database. One owns the node's parked calls and
// runs a call with no socket at all (the node's socket application has
// nowhere to go: a call sent down the socket path would fail); when it
// shuts down it hands the node on, and the other instance, which stood
// by, takes the next call.
func TestServeParkedCallsMoveToTheStandby(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) {
		db := dsn(t)
		node := testNode(t, "127.0.0.1:0")
		node.SetSocketAddr("127.0.0.1:1") // nothing listens there
		park := func(c *Config) { c.FSNodes, c.Control = node.Addr(), "park" }
		a := startServe(t, db, park)
		b := startServe(t, db, park)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		conn, err := esl.DialInbound(ctx, node.Addr(), "ClueCon", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		owner := func() string {
			v, _ := conn.API(ctx, "global_getvar "+parking.GlobalVar)
			tag, _, _ := strings.Cut(v, ".")
			return tag
		}
		byTag := map[string]*server{call.Tag(a.instance): a, call.Tag(b.instance): b}
		pollUntil(t, "one instance owned the node's parked calls", func() bool { return byTag[owner()] != nil }, func() any { return owner() })
		first := byTag[owner()]
		standby := a
		if first == a {
			standby = b
		}
		place := func(s *server, from string) {
			t.Helper()
			res, err := testphone.New(node.Addr(), "ClueCon").Call(ctx, testphone.Script{From: from, To: demoPhone, HangupAfter: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if res.CallSid == "" || !res.Answered {
				t.Fatalf("call from %s: not taken (%+v)", from, res)
			}
			s.waitEnded(res.CallSid) // the instance that owns the node ran it
		}
		place(first, "+15550109301")

		first.stop() // drains: it hands the node's parked calls on first
		pollUntil(t, "the standby took the node's parked calls over", func() bool { return byTag[owner()] == standby },
			func() any { return owner() })
		place(standby, "+15550109302")
	})
}
