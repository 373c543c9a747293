package call

import (
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/esl"
)

// Queue reasons for breaking the hold music.
const (
	breakNone = iota
	breakDial
	breakAnnounce
	breakTimeout
)

// waitedOut ends a queued connect whose max wait ran out.
var waitedOut = flows.DialResult{Status: flows.DialBusy, Reason: "no agent became free within the queue's max wait"}

// queueing is a caller waiting for a free agent. The place is a row in the
// database (arrival order per applet, across instances); the caller hears
// music on hold, broken for announcements, for the agent who frees up, or
// when the wait is over.
type queueing struct {
	cfg   flows.Queue
	since time.Time
	// why the music is being broken; the agent to ring once it stopped.
	breaking int
	agent    dialLeg
	// announcing: the music is stopped for an announcement. expired: the
	// max wait is over (the wait timer fired).
	announcing, expired bool
	// Timers: the max wait, the next announcement, the poll for a free
	// agent (0: none).
	wait, announce, poll int
	music                holdMusic
}

// holdMusic is what a queued caller hears. It is a plain playback, ended
// by uuid_break and played again when it ends by itself: endless_playback
// cannot be broken (FreeSWITCH restarts the file on a break), and
// uuid_break all would also drop the commands queued behind it.
type holdMusic struct {
	src string // playing now: the queue's music or the fallback tone
	app string // Application-UUID of its playback; "" while none runs
	// started: its PLAYBACK_START arrived, so a break lands on it (a
	// break sent before would be lost); breakDue: break it once started.
	started, breakDue bool
	// fails counts playbacks in a row that ended at once (a file the node
	// cannot play); off: nothing plays, the caller waits in silence.
	fails int
	off   bool
	retry int // timer of the next try (0: none)
}

// queueEvents are the event types a queued call needs beyond Subscribed:
// the start of its hold music.
var queueEvents = []string{"PLAYBACK_START"}

// musicRetries is how many playbacks in a row may fail before the queue's
// music is replaced by the default tone, and that tone by silence.
const musicRetries = 3

// stopQueue stops the queue's timers.
func (c *call) stopQueue(q *queueing) {
	c.stopTimer(q.wait)
	c.stopTimer(q.announce)
	c.stopTimer(q.music.retry)
	c.stopTimer(q.poll)
	q.wait, q.announce, q.music.retry, q.poll = 0, 0, 0, 0
}

// enqueue puts the caller in the applet's queue: every destination is on
// another call.
func (c *call) enqueue() {
	cn := c.conn
	cfg := *cn.d.Queue
	q := &queueing{cfg: cfg, since: c.now()}
	if err := c.look.enqueue(c.account, cn.scope, c.sid); err != nil {
		c.log.Error("call: cannot queue the caller", "err", err)
		c.connectDone(flows.DialResult{Status: flows.DialBusy, Reason: "every destination is on another call; queue unavailable"})
		return
	}
	cn.q = q
	q.music.src = audio(cfg.MusicOnHold)
	if q.music.src == "" {
		q.music.src = flows.DefaultQueueMusic
	}
	// Breaking the music must wait for its start; only a queued call
	// needs the event, so only it subscribes.
	c.emit(Subscribe{Events: queueEvents})
	c.log.Info("call: queued for a free agent", "queue", cn.scope, "max_wait", cfg.MaxWait)
	q.wait = c.after(time.Duration(cfg.MaxWait)*time.Second, func() { c.queueTimeout(q) })
	if cfg.Announcement != nil && cfg.AnnounceEvery > 0 {
		c.armAnnouncement(q)
	}
	// A free agent is looked for on every local release and, for
	// releases on other instances, every QueuePoll.
	c.ids++
	q.poll = c.ids
	c.polls[q.poll] = func() { c.queuePoll(q) }
	c.emit(PollQueue{ID: q.poll, Every: c.env.cfg.QueuePoll})
	c.queueMusic()
}

func (c *call) armAnnouncement(q *queueing) {
	q.announce = c.after(time.Duration(q.cfg.AnnounceEvery)*time.Second, func() {
		q.announce = 0
		if c.conn == nil || c.conn.q != q || q.breaking != breakNone {
			return
		}
		q.breaking = breakAnnounce
		c.breakMusic()
	})
}

// queuePoll rings a free agent if the caller is first in line.
func (c *call) queuePoll(q *queueing) {
	cn := c.conn
	if cn == nil || cn.q != q || q.breaking != breakNone || q.announcing || c.pending.kind != waitQueue || c.left() {
		return
	}
	ahead, err := c.look.ahead(c.sid)
	if err != nil {
		c.log.Warn("call: queue place unknown", "err", err)
		return
	}
	if ahead > 0 {
		return
	}
	clear(cn.tried)
	for _, t := range cn.targets {
		if l, ok := c.take(t); ok {
			q.agent = l
			q.breaking = breakDial
			c.breakMusic()
			return
		}
	}
}

func (c *call) queueTimeout(q *queueing) {
	q.wait = 0
	if c.conn == nil || c.conn.q != q {
		return
	}
	q.expired = true
	if q.breaking == breakNone && c.pending.kind == waitQueue {
		q.breaking = breakTimeout
		c.breakMusic()
	}
}

// queueMusic plays hold music until it is broken or ends.
func (c *call) queueMusic() {
	m := &c.conn.q.music
	m.app, m.started, m.breakDue = "", false, false
	if m.off {
		c.pending = pending{kind: waitQueue}
		return
	}
	c.await(pending{kind: waitQueue}, "playback", m.src)
	m.app = c.pending.app
}

// musicStarted: the hold music's PLAYBACK_START.
func (c *call) musicStarted(ev esl.Event) {
	cn := c.conn
	if cn == nil || cn.q == nil {
		return
	}
	m := &cn.q.music
	if m.app == "" || m.app != c.pending.app || m.started || ev.Get("Playback-File-Path") != m.src {
		return
	}
	m.started = true
	if m.breakDue {
		c.sendBreak()
	}
}

// breakMusic stops what the queued caller hears, so the queue can go on:
// the music once it has started, an announcement at once; with nothing
// playing the queue goes on at once.
func (c *call) breakMusic() {
	q := c.conn.q
	m := &q.music
	switch {
	case q.announcing:
		c.sendBreak()
	case m.app == "":
		c.stopTimer(m.retry)
		m.retry = 0
		c.queueBroken("")
	case !m.started:
		m.breakDue = true
	default:
		c.sendBreak()
	}
}

func (c *call) sendBreak() {
	c.emit(API{Cmd: "uuid_break " + c.uuid})
}

// queueBroken: the music or an announcement stopped (response is the
// playback's Application-Response; "" when nothing was playing).
func (c *call) queueBroken(response string) {
	cn := c.conn
	c.pending = pending{}
	if cn == nil || cn.q == nil {
		return
	}
	q := cn.q
	if c.left() {
		c.connectDone(c.lastOr(flows.DialBusy, "the caller left the queue"))
		return
	}
	why := q.breaking
	q.breaking = breakNone
	switch {
	case why == breakDial:
		if q.expired {
			// The wait ran out while the agent was being taken.
			c.releaseAgent(q.agent)
			c.connectDone(waitedOut)
			return
		}
		c.log.Info("call: agent free; ringing from the queue", "dest", q.agent.dest, "waited", c.now().Sub(q.since).Round(time.Second))
		c.ring([]dialLeg{q.agent})
	case why == breakTimeout || q.expired:
		c.connectDone(waitedOut)
	case why == breakAnnounce:
		q.announcing = true
		app, arg := c.m.play(*q.cfg.Announcement)
		c.await(pending{kind: waitQueue}, app, arg)
		c.armAnnouncement(q)
	case q.announcing:
		q.announcing = false
		c.queueMusic()
		c.queuePoll(q)
	default:
		c.musicEnded(q, response)
	}
}

// musicEnded: the hold music ended by itself. A file that played is played
// again; one that failed at once (never started, or the node could not
// play it) is retried with a growing pause, then replaced by the default
// tone, then by silence, so a prompt the node lacks never becomes a loop
// of commands.
func (c *call) musicEnded(q *queueing, response string) {
	m := &q.music
	failed := !m.started || (response != "" && response != "FILE PLAYED")
	m.app = ""
	if !failed {
		m.fails = 0
		c.queueMusic()
		c.queuePoll(q)
		return
	}
	m.fails++
	c.log.Warn("call: hold music did not play", "music", m.src, "response", response, "attempt", m.fails)
	if m.fails >= musicRetries {
		m.fails = 0
		if m.src != flows.DefaultQueueMusic {
			c.log.Warn("call: hold music cannot be played; using the default tone", "music", m.src)
			m.src = flows.DefaultQueueMusic
		} else {
			c.log.Error("call: no hold music can be played; the caller waits in silence", "music", m.src)
			m.off = true
		}
	}
	c.pending = pending{kind: waitQueue}
	if !m.off {
		m.retry = c.after(time.Duration(m.fails)*musicBackoff, func() {
			m.retry = 0
			if c.conn == nil || c.conn.q != q || m.app != "" || c.pending.kind != waitQueue || q.breaking != breakNone || c.left() {
				return
			}
			c.queueMusic()
		})
	}
	c.queuePoll(q)
}

// musicBackoff is the pause before the hold music is tried again, times
// the failures in a row.
const musicBackoff = 500 * time.Millisecond

// queueRingDone: the agent rung from the queue did not answer; the caller
// keeps their place and waits on.
func (c *call) queueRingDone() {
	q := c.conn.q
	if q.expired {
		c.connectDone(waitedOut)
		return
	}
	c.queueMusic()
}

// releaseAgent frees an agent taken but never rung.
func (c *call) releaseAgent(l dialLeg) {
	if l.held {
		c.emit(Release{UUID: l.uuid})
	}
}

// leaveQueue gives the caller's place up.
func (c *call) leaveQueue(q *queueing) {
	c.stopQueue(q)
	c.emit(Dequeue{SID: c.sid})
	c.emit(Unsubscribe{Events: queueEvents})
}
