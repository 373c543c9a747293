package fsim

import (
	"slices"
	"strconv"
	"strings"
)

// Audio, as far as recordings need it. The emulator carries no samples; it
// tracks who sends audio to whom:
//
//   - a channel sends audio while it plays something audible (playback of a
//     tone or file, speak, a uuid_broadcast) or, bridged, passes on what
//     arrives from its bridge peer;
//   - audio arrives at a channel from the other half of its loopback / SIP
//     pair, and at a far-end test-network phone that answered (it plays the
//     answer tone, as the node's test dialplan does);
//   - nothing else makes sound: a parked caller is silent.
//
// A meter integrates, over simulated time, how long audio arrives at a
// channel (record) or arrives or leaves (record_session).

// writes reports whether ch sends audio to its far side now.
func (ch *channel) writes(depth int) bool {
	if ch.hungup || depth > 8 {
		return false
	}
	if ch.sending > 0 {
		return true
	}
	if l := ch.bridge; l != nil {
		peer := l.a
		if peer == ch {
			peer = l.b
		}
		return peer.reads(depth + 1)
	}
	return false
}

// reads reports whether audio arrives at ch now.
func (ch *channel) reads(depth int) bool {
	if ch.hungup || depth > 8 {
		return false
	}
	if ch.remoteTone {
		return true
	}
	if p := ch.pair; p != nil {
		return p.writes(depth + 1)
	}
	return false
}

// meter measures the audio of one recording.
type meter struct {
	s       *Server
	ch      *channel
	both    bool  // record_session: what the channel sends counts too
	on      bool  // audio now
	since   int64 // simulated µs of the last update
	audioUS int64
	// onChange is told when audio starts or stops (silence detection)
	onChange func(on bool, atUS int64)
}

// newMeter starts measuring at startUS. Caller holds s.mu.
func (s *Server) newMeter(ch *channel, both bool, startUS int64) *meter {
	m := &meter{s: s, ch: ch, both: both, since: startUS}
	ch.meters = append(ch.meters, m)
	m.on = m.hears()
	return m
}

func (m *meter) hears() bool {
	return m.ch.reads(0) || (m.both && m.ch.writes(0))
}

// update accounts for the time since the last update, as of atUS.
func (m *meter) update(atUS int64) {
	if atUS < m.since {
		atUS = m.since
	}
	if m.on {
		m.audioUS += atUS - m.since
	}
	m.since = atUS
	if on := m.hears(); on != m.on {
		m.on = on
		if m.onChange != nil {
			m.onChange(on, atUS)
		}
	}
}

// stop ends the measurement at atUS and returns the audio time in ms.
func (m *meter) stop(atUS int64) int64 {
	if atUS < m.since {
		atUS = m.since
	}
	if m.on {
		m.audioUS += atUS - m.since
	}
	m.since = atUS
	m.on = false
	m.onChange = nil
	m.ch.meters = slices.DeleteFunc(m.ch.meters, func(o *meter) bool { return o == m })
	return m.audioUS / 1000
}

// mediaChanged re-evaluates the recordings that may hear the change after
// something on the given channels started or stopped sending audio, or
// their links changed. Caller holds s.mu.
func (s *Server) mediaChanged(chans ...*channel) { s.mediaChangedAt(s.simUS(), chans...) }

// mediaChangedAt is mediaChanged for a change that happened at atUS (a
// timer's planned time, free of scheduling jitter).
//
// Audio reaches a channel only through its loopback pair and its bridge,
// so a change can be heard only by recordings on channels linked to the
// changed ones: those are updated, not every recording on the node (with
// thousands of calls up, that made each change cost as much as all calls).
func (s *Server) mediaChangedAt(atUS int64, chans ...*channel) {
	if now := s.simUS(); atUS > now {
		atUS = now
	}
	seen := map[*channel]bool{}
	todo := append([]*channel(nil), chans...)
	for len(todo) > 0 {
		ch := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if ch == nil || seen[ch] {
			continue
		}
		seen[ch] = true
		for _, m := range ch.meters {
			m.update(atUS)
		}
		todo = append(todo, ch.pair)
		if l := ch.bridge; l != nil {
			todo = append(todo, l.a, l.b)
		}
	}
}

// toneSpan is a tone a channel heard from the node itself for a while:
// the ringback an answered caller hears while a bridge rings its legs.
type toneSpan struct {
	fromUS, toUS int64 // toUS 0: still playing
	freq         float64
}

// startRingback notes the ringback FreeSWITCH plays to an answered caller
// while a bridge rings: transfer_ringback (Switchyard's music on hold).
// Only a tone (a %(on,off,freq) TGML, or a tone_stream:// of one) is
// written into recordings, as one continuous sine of its first frequency;
// files and streams are not synthesised.
func (ch *channel) startRingback() {
	if f := toneFreq(ch.getVar("transfer_ringback")); f > 0 {
		ch.ringback = append(ch.ringback, toneSpan{fromUS: ch.s.simUS(), freq: f})
	}
}

// stopRingback ends the ringback when the bridge has its outcome.
func (ch *channel) stopRingback() {
	if n := len(ch.ringback); n > 0 && ch.ringback[n-1].toUS == 0 {
		ch.ringback[n-1].toUS = ch.s.simUS()
	}
}

// toneFreq reads the first frequency of a TGML tone, e.g.
// "tone_stream://%(1000,0,697);loops=-1" or "%(2000,4000,440,480)".
func toneFreq(v string) float64 {
	v = strings.TrimPrefix(v, "tone_stream://")
	_, rest, ok := strings.Cut(v, "%(")
	if !ok {
		return 0
	}
	rest, _, _ = strings.Cut(rest, ")")
	f := strings.Split(rest, ",")
	if len(f) < 3 {
		return 0
	}
	freq, err := strconv.ParseFloat(strings.TrimSpace(f[2]), 64)
	if err != nil || freq <= 0 || freq >= 4000 {
		return 0
	}
	return freq
}
