package api

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// The v1 Call object (§2.3 of the reference).
//
// One struct renders both formats, fields in Exotel's order. Nullable
// fields are JSON null and, in XML, an empty element (<EndTime></EndTime>)
// so XML clients find every field. Duration and Price are strings, as
// Exotel sends them. CallType, which older SDK docs list in the Call
// object, follows RecordingUrl: clients that do not know it ignore it.
//
// Details (details=true) in XML:
//
//	<Details>
//	  <ConversationDuration>301</ConversationDuration>
//	  <Leg1Status>completed</Leg1Status><Leg2Status>completed</Leg2Status>
//	  <Legs>
//	    <Leg><Id>1</Id><OnCallDuration>318</OnCallDuration></Leg>
//	    <Leg><Id>2</Id><OnCallDuration>301</OnCallDuration></Leg>
//	  </Legs>
//	</Details>
type v1Call struct {
	Sid                   string     `json:"Sid" xml:"Sid"`
	ParentCallSid         v1Nullable `json:"ParentCallSid" xml:"ParentCallSid"`
	DateCreated           string     `json:"DateCreated" xml:"DateCreated"`
	DateUpdated           string     `json:"DateUpdated" xml:"DateUpdated"`
	AccountSid            string     `json:"AccountSid" xml:"AccountSid"`
	To                    string     `json:"To" xml:"To"`
	From                  string     `json:"From" xml:"From"`
	PhoneNumberSid        string     `json:"PhoneNumberSid" xml:"PhoneNumberSid"`
	Status                string     `json:"Status" xml:"Status"`
	StartTime             string     `json:"StartTime" xml:"StartTime"`
	EndTime               v1Nullable `json:"EndTime" xml:"EndTime"`
	Duration              v1Nullable `json:"Duration" xml:"Duration"`
	Price                 v1Nullable `json:"Price" xml:"Price"`
	Direction             string     `json:"Direction" xml:"Direction"`
	AnsweredBy            v1Nullable `json:"AnsweredBy" xml:"AnsweredBy"`
	ForwardedFrom         v1Nullable `json:"ForwardedFrom" xml:"ForwardedFrom"`
	CallerName            v1Nullable `json:"CallerName" xml:"CallerName"`
	Uri                   string     `json:"Uri" xml:"Uri"`
	RecordingUrl          v1Nullable `json:"RecordingUrl" xml:"RecordingUrl"`
	CallType              v1Nullable `json:"CallType" xml:"CallType"`
	PreSignedRecordingUrl string     `json:"PreSignedRecordingUrl,omitempty" xml:"PreSignedRecordingUrl,omitempty"`
	Details               *v1Details `json:"Details,omitempty" xml:"Details,omitempty"`
}

// v1Details is the Details block of details=true (§2.4).
type v1Details struct {
	ConversationDuration int        `json:"ConversationDuration" xml:"ConversationDuration"`
	Leg1Status           v1Nullable `json:"Leg1Status" xml:"Leg1Status"`
	Leg2Status           v1Nullable `json:"Leg2Status" xml:"Leg2Status"`
	Legs                 v1LegList  `json:"Legs" xml:"Legs"`
}

// v1Leg is one entry of Details.Legs.
type v1Leg struct {
	ID             int `json:"Id" xml:"Id"`
	OnCallDuration int `json:"OnCallDuration" xml:"OnCallDuration"`
}

// v1LegList is JSON [{"Leg": {...}}, …] and XML <Legs><Leg>…</Leg>…</Legs>.
type v1LegList []v1Leg

// MarshalJSON wraps each leg in {"Leg": …}, as Exotel does.
func (l v1LegList) MarshalJSON() ([]byte, error) {
	type wrapped struct {
		Leg v1Leg `json:"Leg"`
	}
	out := make([]wrapped, len(l))
	for i, leg := range l {
		out[i] = wrapped{leg}
	}
	return json.Marshal(out)
}

// MarshalXML writes one Leg element per leg.
func (l v1LegList) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, leg := range l {
		if err := e.EncodeElement(leg, xml.StartElement{Name: xml.Name{Local: "Leg"}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// v1Nullable is a string that is JSON null (XML: empty element) when unset.
type v1Nullable struct {
	s  string
	ok bool
}

// v1Str is s, or null when s is empty.
func v1Str(s string) v1Nullable { return v1Nullable{s: s, ok: s != ""} }

// v1StrPtr is *p, or null when p is nil or empty.
func v1StrPtr(p *string) v1Nullable {
	if p == nil {
		return v1Nullable{}
	}
	return v1Str(*p)
}

// MarshalJSON implements json.Marshaler.
func (n v1Nullable) MarshalJSON() ([]byte, error) {
	if !n.ok {
		return []byte("null"), nil
	}
	return json.Marshal(n.s)
}

// MarshalXML implements xml.Marshaler.
func (n v1Nullable) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return e.EncodeElement(n.s, start)
}

// v1CallOpts are the query options of a Call object.
type v1CallOpts struct {
	details  bool          // details=true
	validity time.Duration // RecordingUrlValidity; 0 for none
}

// v1CallOptsOf reads details (unless list, where it is not offered) and
// RecordingUrlValidity (5 to 60 minutes).
func v1CallOptsOf(q url.Values, list bool) (v1CallOpts, error) {
	var o v1CallOpts
	if d := strings.TrimSpace(q.Get("details")); d != "" && !list {
		b, err := v1BoolParam("details", d)
		if err != nil {
			return o, err
		}
		o.details = b
	}
	if v := strings.TrimSpace(q.Get("RecordingUrlValidity")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 60 {
			return o, badRequest(fmt.Sprintf("RecordingUrlValidity %q is not valid: 5 to 60 (minutes)", v))
		}
		o.validity = time.Duration(n) * time.Minute
	}
	return o, nil
}

// v1Time renders a v1 timestamp: YYYY-MM-DD HH:mm:ss in the server's zone
// (IST by default), no zone suffix.
func (s *Server) v1Time(t time.Time) string {
	return t.In(s.opts.TimeZone).Format(time.DateTime)
}

// v1CallURI is a call's Uri.
func v1CallURI(accountSID, sid string) string {
	return "/v1/Accounts/" + accountSID + "/Calls/" + sid
}

// v1CallView renders a call. With details it reads the call's legs.
func (s *Server) v1CallView(ctx context.Context, c *store.Call, o v1CallOpts) (v1Call, error) {
	v := s.v1CallBase(c)
	if o.validity > 0 && c.RecordingURL != "" {
		v.PreSignedRecordingUrl = s.presign(c.RecordingURL, time.Now(), o.validity)
	}
	if o.details {
		legs, err := s.store.Legs().ByCall(ctx, c.AccountSID, c.SID)
		if err != nil {
			return v, fmt.Errorf("call %s: %w", c.SID, err)
		}
		v.Details = v1DetailsOf(c, legs)
	}
	return v, nil
}

// v1CallBase is the Call object without the optional parts.
func (s *Server) v1CallBase(c *store.Call) v1Call {
	v := v1Call{
		Sid:            c.SID,
		ParentCallSid:  v1StrPtr(c.ParentCallSID),
		DateCreated:    s.v1Time(c.CreatedAt),
		DateUpdated:    s.v1Time(c.UpdatedAt),
		AccountSid:     c.AccountSID,
		To:             c.To,
		From:           c.From,
		PhoneNumberSid: c.PhoneNumber,
		Status:         string(c.Status),
		StartTime:      s.v1Time(c.StartTime),
		Price:          v1StrPtr(c.Price),
		Direction:      c.Direction,
		Uri:            v1CallURI(c.AccountSID, c.SID),
		RecordingUrl:   v1Str(c.RecordingURL),
		CallType:       v1Str(c.CallType),
	}
	// A flow call has no second number: its To is the ExoPhone.
	if v.To == "" {
		v.To = c.PhoneNumber
	}
	// Duration is null while the call is live (no final record yet).
	if c.EndTime != nil {
		v.EndTime = v1Str(s.v1Time(*c.EndTime))
		v.Duration = v1Str(strconv.Itoa(c.Duration))
	}
	return v
}

// v1DetailsOf builds Details from the legs: leg 1 is the first leg (the
// one dialled first, From); leg 2 is the second party: the leg that
// answered among the later ones (parallel or sequential ringing tries
// several), else the last one tried. OnCallDuration is a leg's talk time
// (answer to hangup).
func v1DetailsOf(c *store.Call, legs []store.Leg) *v1Details {
	d := &v1Details{ConversationDuration: c.ConversationDuration, Legs: v1LegList{}}
	leg1, leg2 := v1SplitLegs(legs)
	if leg1 != nil {
		d.Leg1Status = v1Str(string(leg1.Status))
		d.Legs = append(d.Legs, v1Leg{ID: 1, OnCallDuration: leg1.TalkTime})
	}
	if leg2 != nil {
		d.Leg2Status = v1Str(string(leg2.Status))
		d.Legs = append(d.Legs, v1Leg{ID: 2, OnCallDuration: leg2.TalkTime})
	}
	return d
}

// v1SplitLegs picks the first leg (Seq 1) and the second party's leg: the
// answered one among the rest, else the last one.
func v1SplitLegs(legs []store.Leg) (first, second *store.Leg) {
	for i := range legs {
		l := &legs[i]
		switch {
		case l.Seq == 1:
			first = l
		case second == nil || second.AnswerTime == nil:
			second = l
		}
	}
	return first, second
}
