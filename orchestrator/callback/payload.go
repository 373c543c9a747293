package callback

import (
	"github.com/switchyard/switchyard/orchestrator/exotime"

	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// Builder builds the status callbacks of a call. Its Terminal and Answered
// methods are store.OutboxFunc values: pass them to store.CallFinal.Outbox
// and store.Calls.Answer. The zero Builder formats times in IST.
type Builder struct {
	// Zone is the time zone timestamps are written in (nil means IST).
	Zone *time.Location
}

// Terminal builds the call's end-of-call callback with the default
// Builder; see Builder.Terminal.
func Terminal(c *store.Call, legs []store.Leg) ([]store.Callback, error) {
	return Builder{}.Terminal(c, legs)
}

// Answered builds the call's answered callback with the default Builder;
// see Builder.Answered.
func Answered(c *store.Call, legs []store.Leg) ([]store.Callback, error) {
	return Builder{}.Answered(c, legs)
}

// Terminal builds the callback for the end of a call. It is meant for
// store.CallFinal.Outbox, so c already carries its terminal status.
//
//   - No URL for the end of the call (neither a "terminal" entry in
//     StatusCallbackURLs nor StatusCallback): nothing.
//   - "terminal" subscribed (in StatusCallbackEvents, or by a URL in
//     StatusCallbackURLs): every field, EventType "terminal".
//   - Otherwise (Exotel's default, also when only "answered" is
//     subscribed): one callback to StatusCallback with the four base
//     fields CallSid, DateUpdated, Status and RecordingUrl.
func (b Builder) Terminal(c *store.Call, legs []store.Leg) ([]store.Callback, error) {
	sub := subscriptionsOf(c)
	url := sub.url(store.CallbackTerminal)
	if url == "" {
		return nil, nil
	}
	var p payload
	if sub.events[store.CallbackTerminal] {
		p = b.full(c, legs, store.CallbackTerminal, string(c.Status), c.EndTime, c.ConversationDuration)
	} else {
		p = b.base(c)
	}
	return one(c, store.CallbackTerminal, url, p)
}

// Answered builds the callback for the moment a call is answered: nothing
// unless "answered" is subscribed and has a URL. It carries every field,
// with EventType "answered", Status "in-progress", an empty EndTime and a
// ConversationDuration of 0. It is meant for store.Calls.Answer.
func (b Builder) Answered(c *store.Call, legs []store.Leg) ([]store.Callback, error) {
	sub := subscriptionsOf(c)
	if !sub.events[store.CallbackAnswered] {
		return nil, nil
	}
	url := sub.url(store.CallbackAnswered)
	if url == "" {
		return nil, nil
	}
	p := b.full(c, legs, store.CallbackAnswered, string(store.InProgress), nil, 0)
	return one(c, store.CallbackAnswered, url, p)
}

// one wraps a payload into the single callback a builder returns.
func one(c *store.Call, event, url string, p payload) ([]store.Callback, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("callback %s of call %s: encode payload: %w", event, c.SID, err)
	}
	return []store.Callback{{
		Event:       event,
		URL:         url,
		ContentType: contentType(c.StatusCallbackContentType),
		Payload:     string(raw),
	}}, nil
}

// base is the payload of the default callback.
func (b Builder) base(c *store.Call) payload {
	return payload{
		{"CallSid", c.SID},
		{"DateUpdated", b.format(&c.UpdatedAt)},
		{"Status", string(c.Status)},
		{"RecordingUrl", c.RecordingURL},
	}
}

// full is the payload of a subscribed event, fields in the order of
// Exotel's example.
func (b Builder) full(c *store.Call, legs []store.Leg, event, status string, end *time.Time, talk int) payload {
	return payload{
		{"CallSid", c.SID},
		{"EventType", event},
		{"DateCreated", b.format(&c.CreatedAt)},
		{"DateUpdated", b.format(&c.UpdatedAt)},
		{"To", c.To},
		{"From", c.From},
		{"PhoneNumberSid", c.PhoneNumber},
		{"StartTime", b.format(&c.StartTime)},
		{"EndTime", b.format(end)},
		{"Status", status},
		{"ConversationDuration", talk},
		{"Direction", c.Direction},
		{"CustomField", c.CustomField},
		{"RecordingUrl", c.RecordingURL},
		{"Legs", legsOf(legs)},
	}
}

// legEntry is one element of Legs.
type legEntry struct {
	OnCallDuration int    `json:"OnCallDuration"`
	Status         string `json:"Status"`
	AnsweredBy     string `json:"AnsweredBy"`
}

// legsOf describes the legs in Seq order. OnCallDuration is the leg's talk
// time. AnsweredBy is "Human" for an answered leg after the first, and
// "NA" otherwise: for leg 1, as Exotel sends it, and for legs that were
// never answered (Switchyard has no answering-machine detection, so it
// never says "Machine" or "NotSure").
func legsOf(legs []store.Leg) []legEntry {
	out := make([]legEntry, 0, len(legs))
	for i, l := range legs {
		by := "NA"
		if i > 0 && l.AnswerTime != nil {
			by = "Human"
		}
		out = append(out, legEntry{OnCallDuration: l.TalkTime, Status: string(l.Status), AnsweredBy: by})
	}
	return out
}

// format writes t in Exotel's layout in the builder's zone; nil or zero is
// "".
func (b Builder) format(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return exotime.Format(*t, b.Zone)
}

// contentType normalises a call's StatusCallbackContentType.
func contentType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	if strings.EqualFold(strings.TrimSpace(mt), store.ContentJSON) {
		return store.ContentJSON
	}
	return store.ContentMultipart
}

// subscriptions is what a call asked to be told, and where.
type subscriptions struct {
	events   map[string]bool   // subscribed events
	fallback string            // StatusCallback
	urls     map[string]string // per-event URLs (non-empty only)
}

// subscriptionsOf reads the call's callback settings. An event is
// subscribed when StatusCallbackEvents lists it or StatusCallbackURLs
// gives it a URL. Unknown events are ignored, and so is a malformed
// StatusCallbackURLs (StatusCallback is used): the builder runs in the
// transaction that finishes the call, which must not fail over a callback
// setting the API validated when the call was created.
func subscriptionsOf(c *store.Call) subscriptions {
	s := subscriptions{events: map[string]bool{}, fallback: strings.TrimSpace(c.StatusCallback), urls: map[string]string{}}
	for ev := range strings.SplitSeq(c.StatusCallbackEvents, ",") {
		if ev = strings.ToLower(strings.TrimSpace(ev)); knownEvent(ev) {
			s.events[ev] = true
		}
	}
	if strings.TrimSpace(c.StatusCallbackURLs) != "" {
		var m map[string]string
		if err := json.Unmarshal([]byte(c.StatusCallbackURLs), &m); err == nil {
			for ev, u := range m {
				ev, u = strings.ToLower(strings.TrimSpace(ev)), strings.TrimSpace(u)
				if knownEvent(ev) && u != "" {
					s.urls[ev] = u
					s.events[ev] = true
				}
			}
		}
	}
	return s
}

// url is where the event's callback goes ("" for nowhere).
func (s subscriptions) url(event string) string {
	if u := s.urls[event]; u != "" {
		return u
	}
	return s.fallback
}

func knownEvent(ev string) bool {
	return ev == store.CallbackTerminal || ev == store.CallbackAnswered
}

// field is one named value of a payload.
type field struct {
	Name  string
	Value any
}

// payload is a JSON object whose keys keep their order: the order the
// fields are sent in.
type payload []field

// MarshalJSON writes the fields as one JSON object, in order.
func (p payload) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range p {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(f.Name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.Value)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
