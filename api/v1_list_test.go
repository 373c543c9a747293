package api

import (
	"github.com/switchyard/switchyard/orchestrator/exotime"

	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// v1ListSeed is a call of the bulk listing fixture.
type v1ListSeed struct {
	ago       time.Duration // created this long before now
	from, to  string
	phone     string
	status    store.Status
	direction string
	duration  int
	price     string // "" = none
	live      bool   // no final record
	account   string // "" = envAccount
}

// seedList writes the fixture and returns the SIDs of envAccount's
// finished calls created in the last 31 days, newest first: what an
// unfiltered listing returns.
func (e *callsEnv) seedList(seeds []v1ListSeed) (sids []string, bySeed []string) {
	e.t.Helper()
	now := time.Now()
	for _, s := range seeds {
		c := &store.Call{AccountSID: s.account, Direction: s.direction, From: s.from, To: s.to,
			PhoneNumber: s.phone, Status: s.status, Duration: s.duration,
			CreatedAt: now.Add(-s.ago), UpdatedAt: now.Add(-s.ago)}
		if c.AccountSID == "" {
			c.AccountSID = envAccount
		}
		if c.Direction == "" {
			c.Direction = store.DirectionOutboundAPI
		}
		if s.price != "" {
			c.Price = &s.price
		}
		if !s.live {
			end := now.Add(-s.ago).Add(time.Duration(s.duration) * time.Second)
			c.EndTime = &end
		}
		envMust(e.t, e.db.Calls().Create(e.t.Context(), c))
		bySeed = append(bySeed, c.SID)
		if !s.live && c.AccountSID == envAccount && s.ago < v1MaxDateRange {
			sids = append(sids, c.SID)
		}
	}
	return sids, bySeed // seeds are given newest first
}

var v1ListFixture = []v1ListSeed{
	{ago: 1 * time.Minute, from: "+919800000001", to: "+919800000002", phone: envExoPhone, status: store.Completed, duration: 30, price: "0.50"},
	{ago: 2 * time.Minute, from: "09800000003", to: "09800000004", phone: envExoPhone2, status: store.Busy, duration: 0},
	{ago: 3 * time.Minute, from: "+15550100001", to: envExoPhone, phone: envExoPhone, status: store.Completed, direction: store.DirectionInbound, duration: 45, price: "1.25"},
	{ago: 4 * time.Minute, from: "+919800000001", to: "+919800000005", phone: envExoPhone, status: store.NoAnswer, duration: 10, price: "0.10"},
	{ago: 5 * time.Minute, from: "+919800000006", to: "+919800000007", phone: envExoPhone2, status: store.Failed, direction: store.DirectionOutboundDial, duration: 5},
	{ago: 6 * time.Minute, from: "+919800000008", to: "+919800000009", phone: envExoPhone, status: store.InProgress, duration: 0, live: true},
	{ago: 40 * 24 * time.Hour, from: "+919800000001", to: "+919800000002", phone: envExoPhone, status: store.Completed, duration: 30},
	{ago: 7 * time.Minute, from: "+919800000001", to: "+919800000002", phone: envOtherPhone, status: store.Completed, duration: 30, account: envOther},
}

// v1ListDoc is a decoded JSON listing.
type v1ListDoc struct {
	Metadata struct {
		Total                                  int
		PageSize                               int
		FirstPageUri, PrevPageUri, NextPageUri *string
	}
	Calls []map[string]any
}

func (e *callsEnv) list(query string) (*v1ListDoc, *http.Response) {
	e.t.Helper()
	rec := e.get("/v1/Accounts/acme1/Calls.json?" + query)
	if rec.Code != http.StatusOK {
		e.t.Fatalf("list %s: %d %s", query, rec.Code, rec.Body)
	}
	var p v1ListDoc
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		e.t.Fatalf("list %s: %v\n%s", query, err, rec.Body)
	}
	return &p, rec.Result()
}

func v1PageSIDs(p *v1ListDoc) []string {
	var out []string
	for _, c := range p.Calls {
		out = append(out, c["Sid"].(string))
	}
	return out
}

func TestV1ListCallsFilters(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newCallsEnvOn(t, dsn, Options{})
		all, s := e.seedList(v1ListFixture)
		if len(all) != 5 {
			t.Fatalf("fixture: %d listable calls", len(all))
		}
		ist := exotime.IST
		day := func(d time.Duration) string { return time.Now().Add(d).In(ist).Format(time.DateTime) }
		tests := []struct {
			query string
			want  []string
		}{
			{"", all},
			{"Sid=" + s[0] + "," + s[3] + "," + s[5], []string{s[0], s[3]}}, // s[5] is live
			{"Sid=" + strings.ToUpper(s[1]), []string{s[1]}},
			{"Sid=" + s[6], nil}, // older than the default window
			{"Sid=" + s[6] + "&DateCreated=gte:" + url.QueryEscape(day(-41*24*time.Hour)) + ";lte:" + url.QueryEscape(day(-39*24*time.Hour)), []string{s[6]}},
			{"DateCreated=" + url.QueryEscape("gte:"+day(-150*time.Second)), []string{s[0], s[1]}},
			{"DateCreated=lte:" + url.QueryEscape(day(-150*time.Second)), []string{s[2], s[3], s[4]}},
			{"To=%2B919800000002,%2B919800000005", []string{s[0], s[3]}},
			{"To=919800000002", []string{s[0]}},
			{"From=%2B919800000001", []string{s[0], s[3]}},
			{"From=098-0000-0003", []string{s[1]}},
			{"From=%2B919800000001&To=%2B919800000005", []string{s[3]}},
			{"Status=completed", []string{s[0], s[2]}},
			{"Status=busy,No-Answer&Status=failed", []string{s[1], s[3], s[4]}},
			{"Status=in-progress", nil},
			{"Duration=gte:10s;lte:30s", []string{s[0], s[3]}},
			{"Duration=gte%3A10s%3Blte%3A30s", []string{s[0], s[3]}},
			{"Duration=eq:45s", []string{s[2]}},
			{"Duration=lte:5", []string{s[1], s[4]}},
			{"Price=gte:0.10;lte:1.0", []string{s[0], s[3]}},
			{"Price=gte:1", []string{s[2]}},
			{"Price=eq:0.5", []string{s[0]}},
			{"Direction=inbound", []string{s[2]}},
			{"Direction=outbound-dial", []string{s[4]}},
			{"PhoneNumber=08047000001", []string{s[1], s[4]}},
			{"PhoneNumber=%2B918047000000&Direction=outbound-api", []string{s[0], s[3]}},
			{"PhoneNumber=" + strings.TrimPrefix(envOtherPhone, "+"), nil},
			{"SortBy=DateCreated:asc", []string{s[4], s[3], s[2], s[1], s[0]}},
			{"SortBy=DateCreated:desc", all},
		}
		for _, tt := range tests {
			p, _ := e.list(tt.query)
			if got := v1PageSIDs(p); !slices.Equal(got, tt.want) {
				t.Errorf("%s: got %v, want %v", tt.query, got, tt.want)
			}
			if p.Metadata.Total != len(tt.want) {
				t.Errorf("%s: Total %d, want %d", tt.query, p.Metadata.Total, len(tt.want))
			}
		}
	})
}

func TestV1ListCallsPaging(t *testing.T) {
	callsDBs(t, func(t *testing.T, dsn func(testing.TB) string) {
		e := newCallsEnvOn(t, dsn, Options{})
		all, _ := e.seedList(v1ListFixture)
		var walked []string
		uri := "/v1/Accounts/acme1/Calls.json?PageSize=2&Status=completed,busy,no-answer,failed"
		pages := 0
		var last *v1ListDoc
		for uri != "" {
			if !strings.HasPrefix(uri, "/v1/Accounts/acme1/Calls.json?") {
				t.Fatalf("page URI %q", uri)
			}
			pg, _ := e.list(strings.SplitN(uri, "?", 2)[1])
			if pg.Metadata.PageSize != 2 || pg.Metadata.Total != 5 {
				t.Errorf("Metadata %+v", pg.Metadata)
			}
			if !strings.Contains(*pg.Metadata.FirstPageUri, "Status=completed%2Cbusy%2Cno-answer%2Cfailed") {
				t.Errorf("FirstPageUri %q does not repeat the filter", *pg.Metadata.FirstPageUri)
			}
			if (pages == 0) != (pg.Metadata.PrevPageUri == nil) {
				t.Errorf("page %d: PrevPageUri %v", pages, pg.Metadata.PrevPageUri)
			}
			walked = append(walked, v1PageSIDs(pg)...)
			pages++
			last = pg
			uri = ""
			if pg.Metadata.NextPageUri != nil {
				uri = *pg.Metadata.NextPageUri
			}
		}
		if pages != 3 || !slices.Equal(walked, all) {
			t.Fatalf("%d pages, walked %v, want %v", pages, walked, all)
		}
		// And back.
		var back []string
		for pg := last; pg.Metadata.PrevPageUri != nil; {
			pg, _ = e.list(strings.SplitN(*pg.Metadata.PrevPageUri, "?", 2)[1])
			back = append(v1PageSIDs(pg), back...)
		}
		if !slices.Equal(back, all[:4]) {
			t.Errorf("walking back: %v, want %v", back, all[:4])
		}
	})
}

func TestV1ListCallsXML(t *testing.T) {
	e := newCallsEnv(t)
	all, _ := e.seedList(v1ListFixture)
	rec := e.get("/v1/Accounts/acme1/Calls?PageSize=3")
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var doc struct {
		XMLName  xml.Name `xml:"TwilioResponse"`
		Metadata struct {
			Total                                  int
			PageSize                               int
			FirstPageUri, PrevPageUri, NextPageUri string
		}
		Calls struct {
			Call []struct{ Sid, Status string }
		}
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, rec.Body)
	}
	m := doc.Metadata
	if m.Total != 5 || m.PageSize != 3 || m.PrevPageUri != "" ||
		!strings.HasPrefix(m.NextPageUri, "/v1/Accounts/acme1/Calls?") || !strings.Contains(m.NextPageUri, "After=") ||
		m.FirstPageUri != "/v1/Accounts/acme1/Calls?PageSize=3" {
		t.Errorf("Metadata %+v", m)
	}
	if len(doc.Calls.Call) != 3 || doc.Calls.Call[0].Sid != all[0] {
		t.Errorf("Calls %+v", doc.Calls)
	}
}

func TestV1ListCallsGolden(t *testing.T) {
	e := newCallsEnv(t)
	e.seedGolden()
	q := "?DateCreated=" + url.QueryEscape("gte:2024-05-02 00:00:00;lte:2024-05-02 23:59:59") + "&PageSize=1"
	for _, g := range []struct{ file, suffix string }{{"v1_calls_list.xml", ""}, {"v1_calls_list.json", ".json"}} {
		rec := e.get("/v1/Accounts/acme1/Calls" + g.suffix + q)
		if rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		// The cursor is opaque but deterministic (time and SID).
		callsGolden(t, g.file, callsGoldenBody(t, rec.Body.Bytes(), g.suffix == ".json"))
	}
}

func TestV1ListCallsRejects(t *testing.T) {
	e := newCallsEnv(t)
	many := strings.TrimSuffix(strings.Repeat(store.NewSID()+",", 101), ",")
	tests := []struct{ query, msg string }{
		{"Sid=abc", "Sid \"abc\" is not a call SID"},
		{"Sid=" + many, "at most 100"},
		{"DateCreated=2024-05-01", "no operator"},
		{"DateCreated=gte:yesterday", "unreadable time"},
		{"DateCreated=gt:2024-05-01 00:00:00", "operator"},
		{"DateCreated=gte:2024-05-01 00:00:00;lte:2024-07-01 00:00:00", "longer than a month"},
		{"DateCreated=gte:2024-05-02 00:00:00;lte:2024-05-01 00:00:00", "gte is after lte"},
		{"DateCreated=;", "no bound"},
		{"To=1,2,3,4,5,6", "at most 5"},
		{"To=abc", "To \"abc\" is not a valid phone number"},
		{"From=sip:", "not a valid phone number"},
		{"PhoneNumber=1234567,2345678,3456789,4567890,5678901,6789012", "at most 5"},
		{"PhoneNumber=exophone", "not a valid phone number"},
		{"Status=done", "Status \"done\" is not valid"},
		{"Duration=30s", "no operator"},
		{"Duration=gte:ten", "unreadable value"},
		{"Duration=gt:10s", "operator"},
		{"Duration=gte:-1s", "unreadable value"},
		{"Price=lte:cheap", "unreadable value"},
		{"Price=gte:Inf", "unreadable value"},
		{"Direction=outbound", "Direction \"outbound\" is not valid"},
		{"PageSize=0", "PageSize"},
		{"PageSize=101", "PageSize"},
		{"PageSize=ten", "PageSize"},
		{"SortBy=DateUpdated:asc", "SortBy"},
		{"SortBy=DateCreated:up", "SortBy"},
		{"After=bogus", "cursor is not valid"},
		{"Before=x&After=y", "not both"},
		{"RecordingUrlValidity=100", "RecordingUrlValidity"},
		{"Sid=%zz", "malformed query"},
	}
	for _, tt := range tests {
		for _, suffix := range []string{"", ".json"} {
			rec := e.get("/v1/Accounts/acme1/Calls" + suffix + "?" + strings.ReplaceAll(tt.query, " ", "+"))
			if rec.Code != http.StatusBadRequest {
				t.Errorf("%s%s: %d %s", suffix, tt.query, rec.Code, rec.Body)
				continue
			}
			if st, msg := v1ErrorOf(t, rec.Body.Bytes(), suffix == ".json"); st != 400 || !strings.Contains(msg, tt.msg) {
				t.Errorf("%s%s: %d %q, want one containing %q", suffix, tt.query, st, msg, tt.msg)
			}
		}
	}
}

func TestV1DateRange(t *testing.T) {
	s := New(Options{})
	ist := exotime.IST
	now := time.Date(2024, 5, 10, 12, 0, 0, 0, ist)
	at := func(d string) time.Time {
		t, err := time.ParseInLocation(time.DateTime, d, ist)
		if err != nil {
			panic(err)
		}
		return t
	}
	tests := []struct {
		in       string
		from, to time.Time
	}{
		{"", now.Add(-v1MaxDateRange), now},
		{"gte:2024-05-01 10:00:00;lte:2024-05-02 10:00:00", at("2024-05-01 10:00:00"), at("2024-05-02 10:00:00")},
		{"lte:2024-05-02 10:00:00;gte:2024-05-01 10:00:00", at("2024-05-01 10:00:00"), at("2024-05-02 10:00:00")},
		{"gte:2024-05-01", at("2024-05-01 00:00:00"), at("2024-05-01 00:00:00").Add(v1MaxDateRange)},
		{"lte:2024-05-01", at("2024-05-02 00:00:00").Add(-time.Microsecond - v1MaxDateRange), at("2024-05-02 00:00:00").Add(-time.Microsecond)},
		{"gte:2024-05-01T10:00:00Z", time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).Add(v1MaxDateRange)},
		{"gte:2024-05-01T10:00:00", at("2024-05-01 10:00:00"), at("2024-05-01 10:00:00").Add(v1MaxDateRange)},
	}
	for _, tt := range tests {
		from, to, err := s.v1DateRange(tt.in, now)
		if err != nil || !from.Equal(tt.from) || !to.Equal(tt.to) {
			t.Errorf("v1DateRange(%q) = %v, %v, %v; want %v, %v", tt.in, from, to, err, tt.from, tt.to)
		}
	}
}
