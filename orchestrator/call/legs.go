package call

import (
	"strings"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// leg folds one channel's events into its state. Events arrive out of
// order (FreeSWITCH queues them per listener), so the fold is
// order-insensitive: progress only moves forward, a non-terminal event
// older (by Event-Sequence) than one already applied is ignored, and
// CHANNEL_HANGUP_COMPLETE, which carries the whole billing record, is final
// and wins over anything that comes after it.
type leg struct {
	uuid      string
	seq       int // 1 = the caller's leg
	to        string
	lastSeq   uint64
	status    store.Status
	answered  bool
	answerAt  time.Time
	hangup    string // cause known before the final record (CHANNEL_HANGUP, the bridge's originate_causes)
	final     *store.LegFinal
	billsec   int
	createdAt time.Time
	// held: the leg holds its destination (state management) until it
	// ends. events is the connect's dial event URL ("" for none).
	held   bool
	events string
	rang   bool
}

// progress ranks statuses: a leg never moves backwards.
func progress(s store.Status) int {
	switch s {
	case store.Queued:
		return 1
	case store.Ringing:
		return 2
	case store.InProgress:
		return 3
	case "":
		return 0
	}
	return 4 // terminal
}

// apply folds an event in and reports whether the leg's status changed.
func (l *leg) apply(ev esl.Event, wall func() time.Time) (changed bool) {
	if l.final != nil {
		return false // the final record is authoritative
	}
	if ev.Name() == "CHANNEL_HANGUP_COMPLETE" {
		f := finalFrom(ev, wall)
		l.final = &f
		l.status = f.Status
		l.billsec = f.TalkTime
		if f.AnswerTime != nil {
			l.answered, l.answerAt = true, *f.AnswerTime
		}
		return true
	}
	seq := ev.Seq()
	if seq != 0 && seq < l.lastSeq {
		return false // older than what is applied
	}
	if seq > l.lastSeq {
		l.lastSeq = seq
	}
	var next store.Status
	switch ev.Name() {
	case "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA":
		next = store.Ringing
	case "CHANNEL_ANSWER", "CHANNEL_BRIDGE":
		next = store.InProgress
		if !l.answered {
			l.answered, l.answerAt = true, eventTime(ev, wall)
		}
	case "CHANNEL_HANGUP":
		l.hangup = ev.Get("Hangup-Cause")
		return false
	default:
		return false
	}
	if progress(next) <= progress(l.status) {
		return false
	}
	l.status = next
	return true
}

// eventTime is when FreeSWITCH fired the event.
func eventTime(ev esl.Event, wall func() time.Time) time.Time {
	if us := ev.Int("Event-Date-Timestamp"); us > 0 {
		return time.UnixMicro(us).UTC()
	}
	return wall().UTC()
}

func epoch(ev esl.Event, name string) *time.Time {
	us := ev.Int("variable_" + name + "_uepoch")
	if us <= 0 {
		return nil
	}
	t := time.UnixMicro(us).UTC()
	return &t
}

// liveLegs lists the call's channels other than the caller's that have
// no final record yet.
func (c *call) liveLegs() []string {
	var out []string
	for _, l := range c.order {
		if l != c.a && l.final == nil {
			out = append(out, l.uuid)
		}
	}
	return out
}

// finalFrom builds a leg's final record from its CHANNEL_HANGUP_COMPLETE.
func finalFrom(ev esl.Event, wall func() time.Time) store.LegFinal {
	cause := ev.Get("Hangup-Cause")
	if cause == "" {
		cause = ev.Var("hangup_cause")
	}
	answer := epoch(ev, "answer")
	end := epoch(ev, "end")
	f := store.LegFinal{
		StartTime:     epoch(ev, "start"),
		AnswerTime:    answer,
		Duration:      int(ev.Int("variable_duration")),
		TalkTime:      int(ev.Int("variable_billsec")),
		HangupCause:   cause,
		SIPTermStatus: ev.Var("sip_term_status"),
	}
	if end != nil {
		f.EndTime = *end
	} else {
		f.EndTime = eventTime(ev, wall)
	}
	f.Status = LegStatus(answer != nil, cause, f.SIPTermStatus, int(ev.Int("variable_progresssec")))
	return f
}

// LegStatus maps how a leg ended to an Exotel status, following the
// recommended algorithm of the FreeSWITCH reference (§7): an answered leg
// is completed whatever the cause; otherwise the cause decides, with the
// SIP final response as tie-breaker.
func LegStatus(answered bool, cause, sipTermStatus string, progressSec int) store.Status {
	if answered {
		return store.Completed
	}
	switch cause {
	case "USER_BUSY", "BUSY_EVERYWHERE", "CALL_REJECTED", "DECLINE":
		return store.Busy
	case "NO_ANSWER", "NO_USER_RESPONSE", "PROGRESS_TIMEOUT", "ALLOTTED_TIMEOUT":
		return store.NoAnswer
	case "RECOVERY_ON_TIMER_EXPIRE":
		if progressSec > 0 {
			return store.NoAnswer
		}
		return store.Failed
	case "ORIGINATOR_CANCEL", "LOSE_RACE", "PICKED_OFF", "MANAGER_REQUEST":
		return store.Canceled
	}
	switch sipTermStatus {
	case "486", "600":
		return store.Busy
	case "480", "408":
		return store.NoAnswer
	case "487":
		return store.Canceled
	}
	return store.Failed
}

// originateCauses parses the A-leg's originate_causes variable,
// "ARRAY::<uuid>;<CAUSE>|:<uuid>;<CAUSE>", which names every leg a bridge
// tried and how it ended: the fallback when a leg's own events are lost.
func originateCauses(v string) map[string]string {
	out := map[string]string{}
	v = strings.TrimPrefix(v, "ARRAY::")
	for _, item := range strings.Split(v, "|:") {
		uuid, cause, ok := strings.Cut(item, ";")
		if ok && uuid != "" {
			out[uuid] = cause
		}
	}
	return out
}
