package console

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

var testKey = []byte("console-internal-tests-signing-key-0123456789")

func TestSessionRoundTrip(t *testing.T) {
	t.Parallel()
	k := deriveKeys(testKey)
	now := time.Unix(1_800_000_000, 0)
	s := session{Account: "acme", Key: "k_1", Expires: now.Add(SessionTTL), Nonce: "n1"}
	v := k.encode(s)
	got, err := k.decode(v, now)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got.Account != "acme" || got.Key != "k_1" || !got.Expires.Equal(s.Expires) || got.Nonce != "n1" || got.raw != v {
		t.Errorf("decoded %+v, want %+v", got, s)
	}
	// The account token's session has no key.
	if got, err := k.decode(k.encode(session{Account: "acme", Expires: now.Add(time.Hour)}), now); err != nil || got.Key != "" {
		t.Errorf("keyless session: %+v %v", got, err)
	}
}

func TestSessionRefusesForgedTamperedAndExpired(t *testing.T) {
	t.Parallel()
	k := deriveKeys(testKey)
	now := time.Unix(1_800_000_000, 0)
	good := k.encode(session{Account: "acme", Key: "k_1", Expires: now.Add(SessionTTL)})
	payload, sig, _ := strings.Cut(good, ".")
	other := deriveKeys([]byte("another-servers-signing-key-0123456789abcdef"))
	cases := map[string]string{
		"empty":           "",
		"no signature":    payload,
		"bad base64":      "!!!." + sig,
		"other account":   k.encode(session{Account: "globex", Key: "k_1", Expires: now.Add(SessionTTL)})[:len(payload)] + "." + sig,
		"other key":       other.encode(session{Account: "acme", Key: "k_1", Expires: now.Add(SessionTTL)}),
		"flipped sig":     payload + "." + flip(sig),
		"expired":         k.encode(session{Account: "acme", Key: "k_1", Expires: now.Add(-time.Second)}),
		"expires now":     k.encode(session{Account: "acme", Key: "k_1", Expires: now}),
		"wrong version":   signed(k, "v0|acme|k_1|1900000000|n"),
		"no account":      signed(k, "v1||k_1|1900000000|n"),
		"too few fields":  signed(k, "v1|acme|k_1|1900000000"),
		"too many fields": signed(k, "v1|acme|k_1|x|1900000000|n"),
		"bad expiry":      signed(k, "v1|acme|k_1|soon|n"),
	}
	for name, v := range cases {
		if s, err := k.decode(v, now); err == nil {
			t.Errorf("%s: accepted as %+v", name, s)
		}
	}
	// A good session expires after SessionTTL.
	if _, err := k.decode(good, now.Add(SessionTTL-time.Second)); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	if _, err := k.decode(good, now.Add(SessionTTL)); err == nil {
		t.Error("accepted at its expiry")
	}
}

// signed signs a raw payload as encode does.
func signed(k sessionKeys, payload string) string {
	return encodeB64(payload) + "." + encodeB64(string(k.mac(k.session, payload)))
}

func encodeB64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func TestCSRFTokens(t *testing.T) {
	t.Parallel()
	k := deriveKeys(testKey)
	now := time.Unix(1_800_000_000, 0)
	a := session{Account: "acme", Key: "k_1", Expires: now.Add(SessionTTL)}
	a.raw = k.encode(a)
	b := session{Account: "acme", Key: "k_1", Expires: now.Add(SessionTTL), Nonce: "another login"}
	b.raw = k.encode(b)
	if k.csrfToken(a) == k.csrfToken(b) {
		t.Error("two sessions share a CSRF token")
	}
	if !tokenEqual(k.csrfToken(a), k.csrfToken(a)) || tokenEqual("", k.csrfToken(a)) {
		t.Error("tokenEqual")
	}
	// Domain separation: a session's signature is not its CSRF token,
	// nor a login token.
	if _, sig, _ := strings.Cut(a.raw, "."); sig == k.csrfToken(a) || k.loginToken(a.raw) == k.csrfToken(a) {
		t.Error("tokens of different uses coincide")
	}
}

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	cs := &console{d: Deps{PublicURL: "https://console.example.com"}}
	cases := []struct {
		origin, referer string
		tls             bool
		want            bool
	}{
		{"http://127.0.0.1:8080", "", false, true},
		{"HTTP://127.0.0.1:8080", "", false, true},
		{"https://127.0.0.1:8080", "", true, true},
		{"https://127.0.0.1:8080", "", false, false},
		{"https://console.example.com", "", false, true},
		{"http://evil.example", "", false, false},
		{"null", "", false, false},
		{"", "http://127.0.0.1:8080/console/calls", false, true},
		{"", "http://evil.example/console/calls", false, false},
		{"", "", false, false},
		{"http://evil.example", "http://127.0.0.1:8080/console/calls", false, false},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("POST", "http://127.0.0.1:8080/console/logout", nil)
		if tc.tls {
			r = httptest.NewRequest("POST", "https://127.0.0.1:8080/console/logout", nil)
		}
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.referer != "" {
			r.Header.Set("Referer", tc.referer)
		}
		if got := cs.sameOrigin(r); got != tc.want {
			t.Errorf("Origin %q Referer %q TLS %v: %v, want %v", tc.origin, tc.referer, tc.tls, got, tc.want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                              "/console/calls",
		"/console/agents":               "/console/agents",
		"/console/calls?status=busy":    "/console/calls?status=busy",
		"https://evil.example/console/": "/console/calls",
		"//evil.example/":               "/console/calls",
		"/console//evil.example":        "/console/calls",
		"/console/login":                "/console/calls",
		"/console/calls/live/events":    "/console/calls",
		"/v1/Accounts/x/Calls":          "/console/calls",
		"/console/\\evil":               "/console/calls",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSpellings(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":               "",
		"+15550100001":   "+15550100001,15550100001",
		"15550100001":    "15550100001,+15550100001",
		" +1 555 010 01": "+155501001,155501001",
		"sip:a@b":        "sip:a@b",
	} {
		if got := strings.Join(spellings(in), ","); got != want {
			t.Errorf("spellings(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTimelineBars(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	at := func(s int) *time.Time { v := t0.Add(time.Duration(s) * time.Second); return &v }
	call := &store.Call{From: "a", To: "b", Status: store.Completed, StartTime: t0, AnswerTime: at(2), EndTime: at(10)}
	legs := []store.Leg{
		{Seq: 1, Direction: "inbound", StartTime: t0, AnswerTime: at(2), EndTime: at(10)},
		{Seq: 2, Direction: "outbound", StartTime: *at(5), EndTime: at(8)}, // never answered
	}
	tl := buildTimeline(call, legs, t0.Add(time.Hour), func(t time.Time) string { return t.Format(time.TimeOnly) })
	if len(tl.Rows) != 3 || tl.Start != "10:00:00" || tl.End != "10:00:10" {
		t.Fatalf("timeline %+v", tl)
	}
	leg1, leg2 := tl.Rows[1], tl.Rows[2]
	if leg1.Ring != (bar{0, 200}) || leg1.Talk != (bar{200, 800}) {
		t.Errorf("leg 1: ring %v talk %v", leg1.Ring, leg1.Talk)
	}
	if leg2.Ring != (bar{500, 300}) || leg2.Talk != (bar{}) || !strings.Contains(leg2.Summary, "not answered") {
		t.Errorf("leg 2: ring %v talk %v %q", leg2.Ring, leg2.Talk, leg2.Summary)
	}
	// A call still up runs to now.
	up := &store.Call{StartTime: t0, AnswerTime: at(1)}
	tl = buildTimeline(up, nil, t0.Add(4*time.Second), func(t time.Time) string { return t.Format(time.TimeOnly) })
	if r := tl.Rows[0]; r.Talk != (bar{250, 750}) || !strings.Contains(r.Summary, "still up") {
		t.Errorf("live call: %+v", r)
	}
}

func TestCallsPlot(t *testing.T) {
	t.Parallel()
	if p := callsPlot(nil, time.Time.String); !p.Empty {
		t.Errorf("no calls: %+v", p)
	}
	t0 := time.Date(2026, 1, 2, 10, 0, 30, 0, time.UTC)
	row := func(sec int, status string) store.AttemptMark {
		return store.AttemptMark{At: t0.Add(time.Duration(sec) * time.Second), Status: status}
	}
	rows := []store.AttemptMark{row(0, "completed"), row(10, "busy"), row(70, "completed"), row(80, "completed"), row(85, "no-answer"), row(200, "dialing")}
	p := callsPlot(rows, func(t time.Time) string { return t.Format(time.TimeOnly) })
	if p.Bucket != "minute" || len(p.Bars) != 4 || p.YMax != 3 || p.From != "10:00:00" || p.To != "10:04:00" {
		t.Fatalf("plot: bucket %q, %d bars, max %d, %s to %s", p.Bucket, len(p.Bars), p.YMax, p.From, p.To)
	}
	// Minute 1: 3 placed (full height): 2 answered at the bottom, 1 not
	// answered on top of them; 66 % answered.
	full := float64(plotBottom - plotTop)
	b := p.Bars[1]
	if b.PlacedH != full || len(b.Segments) != 2 || !strings.Contains(b.Title, "3 placed (2 answered, 1 no answer); 66 % answered") {
		t.Fatalf("bar 1: %+v", b)
	}
	if s := b.Segments[0]; s.Class != "answered" || math.Abs(s.H-full*2/3) > 1e-9 || math.Abs(s.Y+s.H-plotBottom) > 1e-9 {
		t.Errorf("bar 1's answered: %+v", s)
	}
	if s := b.Segments[1]; s.Class != "noanswer" || math.Abs(s.Y+s.H-b.Segments[0].Y) > 1e-9 {
		t.Errorf("bar 1's no answer does not sit on the answered: %+v", b.Segments)
	}
	if p.Bars[2].PlacedH != 0 || len(p.Bars[2].Segments) != 0 || p.Bars[3].Segments[0].Class != "dialing" {
		t.Errorf("bars 2, 3: %+v %+v", p.Bars[2], p.Bars[3])
	}
	// The answer rate: a point per minute with calls (50 %, 66 %, 0 %).
	if pts := strings.Fields(p.RateLine); len(pts) != 3 || !strings.HasSuffix(pts[2], fmt.Sprintf(",%.1f", float64(plotBottom))) {
		t.Errorf("answer rate line %q", p.RateLine)
	}
	// A day of calls: the bucket grows until the bars fit.
	long := []store.AttemptMark{row(0, "completed"), row(24*3600, "completed")}
	if p := callsPlot(long, time.Time.String); p.Bucket != "hour" || len(p.Bars) > plotMaxBars {
		t.Errorf("a day: bucket %q, %d bars", p.Bucket, len(p.Bars))
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	for secs, want := range map[int]string{0: "0s", 7: "7s", 125: "2m 05s", 3723: "1h 02m 03s", -1: "—"} {
		if got := duration(secs); got != want {
			t.Errorf("duration(%d) = %q, want %q", secs, got, want)
		}
	}
}
