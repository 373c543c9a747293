package callback

import (
	"github.com/switchyard/switchyard/orchestrator/exotime"

	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// ist returns the UTC instant of an IST wall-clock time on 2024-05-02.
func ist(h, m, s int) time.Time {
	return time.Date(2024, 5, 2, h, m, s, 0, exotime.IST).UTC()
}

func ptr[T any](v T) *T { return &v }

// exampleCall is the call of the reference's JSON example, as the store
// hands it to a builder after Finish.
func exampleCall() (*store.Call, []store.Leg) {
	c := &store.Call{
		SID:                  "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
		AccountSID:           "acme1",
		Direction:            store.DirectionOutboundAPI,
		From:                 "09800000001",
		To:                   "09800000002",
		PhoneNumber:          "08047000000",
		Status:               store.Completed,
		StartTime:            ist(11, 4, 11),
		AnswerTime:           ptr(ist(11, 4, 20)),
		EndTime:              ptr(ist(11, 9, 31)),
		ConversationDuration: 301,
		RecordingURL:         "https://recordings.example/x.mp3",
		CustomField:          "order-77",
		StatusCallback:       "https://hooks.example/status",
		StatusCallbackEvents: "terminal",
		CreatedAt:            ist(11, 4, 10),
		UpdatedAt:            ist(11, 9, 31),
	}
	legs := []store.Leg{
		{Seq: 1, Status: store.Completed, AnswerTime: ptr(ist(11, 4, 13)), TalkTime: 318},
		{Seq: 2, Status: store.Completed, AnswerTime: ptr(ist(11, 4, 30)), TalkTime: 301},
	}
	return c, legs
}

func compact(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		t.Fatalf("compact %s: %v", s, err)
	}
	return buf.String()
}

func buildOne(t *testing.T, fn store.OutboxFunc, c *store.Call, legs []store.Leg) store.Callback {
	t.Helper()
	cbs, err := fn(c, legs)
	if err != nil {
		t.Fatal(err)
	}
	if len(cbs) != 1 {
		t.Fatalf("got %d callbacks, want 1: %+v", len(cbs), cbs)
	}
	return cbs[0]
}

func TestTerminalMatchesReferenceExample(t *testing.T) {
	c, legs := exampleCall()
	cb := buildOne(t, Terminal, c, legs)
	want := compact(t, `{"CallSid":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","EventType":"terminal",
	 "DateCreated":"2024-05-02 11:04:10","DateUpdated":"2024-05-02 11:09:31",
	 "To":"09800000002","From":"09800000001","PhoneNumberSid":"08047000000",
	 "StartTime":"2024-05-02 11:04:11","EndTime":"2024-05-02 11:09:31",
	 "Status":"completed","ConversationDuration":301,"Direction":"outbound-api",
	 "CustomField":"order-77","RecordingUrl":"https://recordings.example/x.mp3",
	 "Legs":[{"OnCallDuration":318,"Status":"completed","AnsweredBy":"NA"},
	         {"OnCallDuration":301,"Status":"completed","AnsweredBy":"Human"}]}`)
	if cb.Payload != want {
		t.Errorf("payload\n got %s\nwant %s", cb.Payload, want)
	}
	if cb.Event != store.CallbackTerminal || cb.URL != c.StatusCallback || cb.ContentType != store.ContentMultipart {
		t.Errorf("event %q url %q content type %q", cb.Event, cb.URL, cb.ContentType)
	}
}

func TestTerminalDefaultIsBaseFields(t *testing.T) {
	for _, events := range []string{"", " ", "answered", "bogus"} {
		c, legs := exampleCall()
		c.StatusCallbackEvents = events
		cb := buildOne(t, Terminal, c, legs)
		want := `{"CallSid":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","DateUpdated":"2024-05-02 11:09:31",` +
			`"Status":"completed","RecordingUrl":"https://recordings.example/x.mp3"}`
		if cb.Payload != want {
			t.Errorf("events %q: payload\n got %s\nwant %s", events, cb.Payload, want)
		}
	}
}

func TestTerminalWithoutURLBuildsNothing(t *testing.T) {
	c, legs := exampleCall()
	c.StatusCallback = ""
	c.StatusCallbackURLs = `{"answered":"https://hooks.example/answered"}`
	if cbs, err := Terminal(c, legs); err != nil || len(cbs) != 0 {
		t.Errorf("Terminal = %+v, %v; want nothing", cbs, err)
	}
	// The answered event has its own URL, so it is still built.
	cb := buildOne(t, Answered, c, legs)
	if cb.URL != "https://hooks.example/answered" {
		t.Errorf("answered URL %q", cb.URL)
	}
}

func TestAnswered(t *testing.T) {
	c, legs := exampleCall()
	if cbs, err := Answered(c, legs); err != nil || len(cbs) != 0 {
		t.Fatalf("answered not subscribed: Answered = %+v, %v; want nothing", cbs, err)
	}

	c.StatusCallbackEvents = "Terminal, answered"
	c.Status, c.EndTime, c.ConversationDuration = store.InProgress, nil, 0
	c.UpdatedAt = ist(11, 4, 30)
	legs[0].Status, legs[0].TalkTime = store.InProgress, 0
	legs[1] = store.Leg{Seq: 2, Status: store.Ringing}
	cb := buildOne(t, Answered, c, legs)
	want := compact(t, `{"CallSid":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","EventType":"answered",
	 "DateCreated":"2024-05-02 11:04:10","DateUpdated":"2024-05-02 11:04:30",
	 "To":"09800000002","From":"09800000001","PhoneNumberSid":"08047000000",
	 "StartTime":"2024-05-02 11:04:11","EndTime":"",
	 "Status":"in-progress","ConversationDuration":0,"Direction":"outbound-api",
	 "CustomField":"order-77","RecordingUrl":"https://recordings.example/x.mp3",
	 "Legs":[{"OnCallDuration":0,"Status":"in-progress","AnsweredBy":"NA"},
	         {"OnCallDuration":0,"Status":"ringing","AnsweredBy":"NA"}]}`)
	if cb.Payload != want {
		t.Errorf("payload\n got %s\nwant %s", cb.Payload, want)
	}
	if cb.Event != store.CallbackAnswered {
		t.Errorf("event %q", cb.Event)
	}
}

func TestPerEventURLs(t *testing.T) {
	c, legs := exampleCall()
	c.StatusCallbackEvents = ""
	c.StatusCallbackURLs = `{"terminal":"https://hooks.example/t","answered":" ","unknown":"https://x"}`
	cb := buildOne(t, Terminal, c, legs)
	if cb.URL != "https://hooks.example/t" {
		t.Errorf("terminal URL %q", cb.URL)
	}
	if !strings.Contains(cb.Payload, `"EventType":"terminal"`) {
		t.Errorf("a terminal URL subscribes to terminal, payload %s", cb.Payload)
	}
	// An empty per-event URL neither overrides nor subscribes.
	if cbs, _ := Answered(c, legs); len(cbs) != 0 {
		t.Errorf("Answered = %+v, want nothing", cbs)
	}

	// A malformed column falls back to StatusCallback.
	c.StatusCallbackURLs = `{not json`
	cb = buildOne(t, Terminal, c, legs)
	if cb.URL != c.StatusCallback || strings.Contains(cb.Payload, "EventType") {
		t.Errorf("malformed URLs: url %q payload %s", cb.URL, cb.Payload)
	}
}

func TestContentTypeAndZone(t *testing.T) {
	c, legs := exampleCall()
	c.StatusCallbackContentType = "Application/JSON; charset=utf-8"
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		kolkata = exotime.IST // no tzdata here; IST is the same offset
	}
	for _, tc := range []struct {
		b    Builder
		want string
	}{
		{Builder{}, "2024-05-02 11:04:10"},
		{Builder{Zone: kolkata}, "2024-05-02 11:04:10"},
		{Builder{Zone: time.UTC}, "2024-05-02 05:34:10"},
	} {
		cb := buildOne(t, tc.b.Terminal, c, legs)
		if cb.ContentType != store.ContentJSON {
			t.Errorf("content type %q", cb.ContentType)
		}
		if !strings.Contains(cb.Payload, `"DateCreated":"`+tc.want+`"`) {
			t.Errorf("zone %v: payload %s, want DateCreated %s", tc.b.Zone, cb.Payload, tc.want)
		}
	}
}

// formFields reads a multipart body's fields in order as name=value.
func formFields(t *testing.T, contentType string, body io.Reader) []string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" {
		t.Fatalf("content type %q: %v", contentType, err)
	}
	r := multipart.NewReader(body, params["boundary"])
	var out []string
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		v, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.FormName()+"="+string(v))
	}
}

func TestEncodeBody(t *testing.T) {
	c, legs := exampleCall()
	cb := buildOne(t, Terminal, c, legs)
	cb.Seq = 3

	body, ct, err := encodeBody(&cb)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CallSid=0f1e2d3c4b5a69788796a5b4c3d2e1f0", "EventType=terminal",
		"DateCreated=2024-05-02 11:04:10", "DateUpdated=2024-05-02 11:09:31",
		"To=09800000002", "From=09800000001", "PhoneNumberSid=08047000000",
		"StartTime=2024-05-02 11:04:11", "EndTime=2024-05-02 11:09:31",
		"Status=completed", "ConversationDuration=301", "Direction=outbound-api",
		"CustomField=order-77", "RecordingUrl=https://recordings.example/x.mp3",
		"Legs[0][OnCallDuration]=318", "Legs[0][Status]=completed", "Legs[0][AnsweredBy]=NA",
		"Legs[1][OnCallDuration]=301", "Legs[1][Status]=completed", "Legs[1][AnsweredBy]=Human",
		"SequenceNumber=3",
	}
	if got := formFields(t, ct, bytes.NewReader(body)); !slices.Equal(got, want) {
		t.Errorf("multipart fields\n got %q\nwant %q", got, want)
	}

	cb.ContentType = store.ContentJSON
	body, ct, err = encodeBody(&cb)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := strings.TrimSuffix(cb.Payload, "}") + `,"SequenceNumber":3}`
	if ct != store.ContentJSON || string(body) != wantJSON {
		t.Errorf("JSON body (%s)\n got %s\nwant %s", ct, body, wantJSON)
	}
}

func TestFlattenScalars(t *testing.T) {
	var got []string
	emit := func(k, v string) error { got = append(got, k+"="+v); return nil }
	raw := `{"a":null,"b":true,"c":1.5,"d":[[1,2],{"x":"y"}],"e":[]}`
	if err := flatten("F", json.RawMessage(raw), emit); err != nil {
		t.Fatal(err)
	}
	want := []string{"F[a]=", "F[b]=true", "F[c]=1.5", "F[d][0][0]=1", "F[d][0][1]=2", "F[d][1][x]=y"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestDecodePayloadRejectsNonObjects(t *testing.T) {
	for _, s := range []string{"", "[]", `{"a":1} {}`, `{"a":`} {
		if _, err := decodePayload(s); err == nil {
			t.Errorf("decodePayload(%q) succeeded", s)
		}
	}
}

func TestDefaultBackoff(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		base    time.Duration
	}{
		{1, 10 * time.Second}, {2, 20 * time.Second}, {4, 80 * time.Second},
		{9, 2560 * time.Second}, {10, time.Hour}, {1000, time.Hour},
	} {
		for range 50 {
			d := DefaultBackoff(tc.attempt)
			if lo, hi := tc.base-tc.base/10, tc.base+tc.base/10; d < lo || d > hi {
				t.Fatalf("DefaultBackoff(%d) = %s, want within [%s, %s]", tc.attempt, d, lo, hi)
			}
		}
	}
}
