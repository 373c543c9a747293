package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// TestQueueAcrossInstances: two instances on one PostgreSQL database,
// each with its own node. The agent is on a call of instance a; a caller
// whose call instance b runs queues behind her, hears the hold music, and
// is put through to her as soon as a's call ends.
func TestQueueAcrossInstances(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	a, aESL := agentsServe(t, dsn)
	b := startServe(t, dsn, func(c *Config) { c.QueuePoll = 100 * time.Millisecond })
	const agent = "+15550100077" // answers, stays up until the other side hangs up
	const phone = "+15550000731"
	events := newAgentsDialEvents(t)
	agentsFlowOn(a, phone, "Queue line", agentsConnectFlow(`{"destinations":["`+agent+`"],"state_management":true,
		"queue":{"max_wait":600},"dial_event_url":"`+events.url+`"}`, "", ""))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type outcome struct {
		res *testphone.Result
		err error
	}
	// once closes ch the first time it is called.
	once := func(ch chan struct{}) func() {
		var o sync.Once
		return func() { o.Do(func() { close(ch) }) }
	}
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("%s never happened", what)
		}
	}

	// Caller 1, on a's node, talks to the agent until told to hang up.
	hang1 := make(chan struct{})
	first := make(chan outcome, 1)
	go func() {
		res, err := testphone.New(aESL, "ClueCon").Call(ctx, testphone.Script{From: "+15550109041", To: phone, Hangup: hang1})
		first <- outcome{res, err}
	}()
	sid1 := events.waitAnswered(t, agent)

	// Caller 2, on b's node, queues behind her.
	queued, bridged2, hang2 := make(chan struct{}), make(chan struct{}), make(chan struct{})
	second := make(chan outcome, 1)
	onQueued, onBridged := once(queued), once(bridged2)
	onApp2 := func(app, arg string) {
		if app == "playback" && strings.Contains(arg, flows.DefaultQueueMusic) {
			onQueued()
		}
		if app == "bridge" {
			onBridged()
		}
	}
	go func() {
		res, err := testphone.New(b.esl, "ClueCon").Call(ctx, testphone.Script{From: "+15550109042", To: phone,
			Hangup: hang2, OnApp: onApp2})
		second <- outcome{res, err}
	}()
	wait(queued, "caller 2 queued on instance b with hold music")
	select {
	case <-bridged2:
		t.Fatal("caller 2 was put through while the agent was on a's call")
	default:
	}

	// a's call ends: b puts its queued caller through.
	close(hang1)
	o1 := <-first
	if o1.err != nil || o1.res.CallSid == "" {
		t.Fatalf("caller 1: %v %+v", o1.err, o1.res)
	}
	wait(bridged2, "caller 2 put through once the agent was free")
	if sid2 := events.waitAnswered(t, agent); sid2 == sid1 {
		t.Fatalf("the agent answered caller 1's call again")
	}
	close(hang2)
	o2 := <-second
	if o2.err != nil || o2.res.CallSid == "" {
		t.Fatalf("caller 2: %v %+v", o2.err, o2.res)
	}
	if got := agentsCallDone(a, o1.res.CallSid); got != "completed" {
		t.Errorf("caller 1's call: %s", got)
	}
	if got := agentsCallDone(b, o2.res.CallSid); got != "completed" {
		t.Errorf("caller 2's call: %s", got)
	}
	legs := agentsToLegs(b, o2.res.CallSid)
	if len(legs) != 1 || legs[0].Status != "completed" {
		t.Errorf("caller 2's legs: %+v, want the agent's, completed", legs)
	}
}
