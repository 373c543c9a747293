package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// Limits of the bulk call details filters (§2.5, §8.4).
const (
	v1MaxListSIDs     = 100
	v1MaxListNumbers  = 5
	v1DefaultPageSize = 50
	v1MaxPageSize     = 100
	// v1MaxDateRange is Exotel's "1 month" for DateCreated, and the default
	// window (the last 31 days) when none is given.
	v1MaxDateRange = 31 * 24 * time.Hour
)

// v1ListMeta is the Metadata block of bulk call details.
type v1ListMeta struct {
	Total        int64      `json:"Total" xml:"Total"`
	PageSize     int        `json:"PageSize" xml:"PageSize"`
	FirstPageUri string     `json:"FirstPageUri" xml:"FirstPageUri"`
	PrevPageUri  v1Nullable `json:"PrevPageUri" xml:"PrevPageUri"`
	NextPageUri  v1Nullable `json:"NextPageUri" xml:"NextPageUri"`
}

// v1CallList is the JSON body of bulk call details.
type v1CallList struct {
	Metadata v1ListMeta `json:"Metadata"`
	Calls    []v1Call   `json:"Calls"`
}

// v1CallsXML is the XML <Calls> element: one <Call> per call.
type v1CallsXML struct {
	Call []v1Call `xml:"Call"`
}

// v1ListCalls is GET /v1/Accounts/:sid/Calls[.json] (§2.5): finished
// calls only (a call in progress is not listed), newest first unless
// SortBy=DateCreated:asc, paged by opaque Before/After cursors. JSON:
// {"Metadata": {…}, "Calls": [Call, …]}; XML: <TwilioResponse> with
// <Metadata> and <Calls><Call>…</Call>…</Calls>. Page URIs repeat the
// filters (and .json when it was asked for).
func (s *Server) v1ListCalls(c echo.Context) error {
	q, err := v1Query(c)
	if err != nil {
		return err
	}
	opts, err := v1CallOptsOf(q, true)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	acc := account(c)
	f, keep, err := s.v1ListFilter(ctx, acc.SID, q, time.Now())
	if err != nil {
		return err
	}
	page, err := s.store.Calls().List(ctx, acc.SID, f)
	if errors.Is(err, store.ErrInvalid) {
		return badRequest("the Before or After cursor is not valid: take it from PrevPageUri or NextPageUri")
	}
	if err != nil {
		return fmt.Errorf("api: list calls: %w", err)
	}

	base := "/v1/Accounts/" + acc.SID + "/Calls"
	if wantsJSON(c) {
		base += ".json"
	}
	uri := func(cursor, value string) string {
		v := url.Values{}
		for k, vs := range keep {
			v[k] = vs
		}
		if cursor != "" {
			v.Set(cursor, value)
		}
		return base + "?" + v.Encode()
	}
	meta := v1ListMeta{Total: page.Total, PageSize: f.Limit, FirstPageUri: uri("", "")}
	if page.Prev != "" {
		meta.PrevPageUri = v1Str(uri("Before", page.Prev))
	}
	if page.Next != "" {
		meta.NextPageUri = v1Str(uri("After", page.Next))
	}
	calls := make([]v1Call, len(page.Calls))
	for i := range page.Calls {
		if calls[i], err = s.v1CallView(ctx, &page.Calls[i], opts); err != nil {
			return fmt.Errorf("api: list calls: %w", err)
		}
	}
	if wantsJSON(c) {
		return writeJSON(c, http.StatusOK, v1CallList{Metadata: meta, Calls: calls})
	}
	return writeTwilioXML(c, http.StatusOK,
		xmlElement{name: "Metadata", v: meta}, xmlElement{name: "Calls", v: v1CallsXML{Call: calls}})
}

// v1ListFilter turns the bulk filters into a store filter, and returns the
// parameters page URIs repeat. Every malformed filter is a 400 that says
// what was expected.
func (s *Server) v1ListFilter(ctx context.Context, accountSID string, q url.Values, now time.Time) (store.CallFilter, url.Values, error) {
	f := store.CallFilter{Finished: true, SortDesc: true, Limit: v1DefaultPageSize}
	keep := url.Values{}
	one := func(name string) string {
		v := strings.TrimSpace(q.Get(name))
		if v != "" {
			keep.Set(name, v)
		}
		return v
	}
	// List filters may be comma-separated, repeated, or both.
	list := func(name string) []string {
		var out []string
		for _, v := range q[name] {
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					out = append(out, item)
				}
			}
		}
		if len(out) > 0 {
			keep.Set(name, strings.Join(out, ","))
		}
		return out
	}

	sids := list("Sid")
	if len(sids) > v1MaxListSIDs {
		return f, nil, badRequest(fmt.Sprintf("Sid lists %d calls: at most %d", len(sids), v1MaxListSIDs))
	}
	for _, sid := range sids {
		sid = strings.ToLower(sid)
		if !store.ValidSID(sid) {
			return f, nil, badRequest(fmt.Sprintf("Sid %q is not a call SID (32 hexadecimal characters)", sid))
		}
		f.SIDs = append(f.SIDs, sid)
	}

	var err error
	if f.CreatedFrom, f.CreatedTo, err = s.v1DateRange(one("DateCreated"), now); err != nil {
		return f, nil, err
	}

	for _, field := range []struct {
		name string
		sip  bool
		dst  *[]string
	}{{"To", false, &f.To}, {"From", true, &f.From}} {
		items := list(field.name)
		if len(items) > v1MaxListNumbers {
			return f, nil, badRequest(fmt.Sprintf("%s lists %d numbers: at most %d", field.name, len(items), v1MaxListNumbers))
		}
		for _, item := range items {
			n, err := callNumber(field.name, item, field.sip)
			if err != nil {
				return f, nil, err
			}
			*field.dst = append(*field.dst, callNumberSpellings(n)...)
		}
	}

	for _, st := range list("Status") {
		v, err := store.ParseStatus(st)
		if err != nil {
			return f, nil, badRequest(fmt.Sprintf("Status %q is not valid: one or more of queued, ringing, in-progress, completed, failed, busy, no-answer, canceled", st))
		}
		f.Statuses = append(f.Statuses, v)
	}

	if d := one("Duration"); d != "" {
		lo, hi, err := v1RangeFilter("Duration", d, func(v string) (float64, bool) {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.ToLower(v), "s"))
			return float64(n), err == nil && n >= 0
		}, "a whole number of seconds such as 30s")
		if err != nil {
			return f, nil, err
		}
		f.DurationMin, f.DurationMax = v1IntBound(lo), v1IntBound(hi)
	}
	if p := one("Price"); p != "" {
		lo, hi, err := v1RangeFilter("Price", p, func(v string) (float64, bool) {
			x, err := strconv.ParseFloat(v, 64)
			return x, err == nil && x >= 0 && !math.IsInf(x, 0)
		}, "a price such as 0.10")
		if err != nil {
			return f, nil, err
		}
		f.PriceMin, f.PriceMax = lo, hi
	}

	if d := one("Direction"); d != "" {
		switch d {
		case store.DirectionInbound, store.DirectionOutboundDial, store.DirectionOutboundAPI:
			f.Direction = d
		default:
			return f, nil, badRequest(fmt.Sprintf("Direction %q is not valid: inbound, outbound-dial or outbound-api", d))
		}
	}

	phones := list("PhoneNumber")
	if len(phones) > v1MaxListNumbers {
		return f, nil, badRequest(fmt.Sprintf("PhoneNumber lists %d numbers: at most %d", len(phones), v1MaxListNumbers))
	}
	for _, item := range phones {
		p, err := s.callExoPhone(ctx, accountSID, "PhoneNumber", item)
		switch {
		case err == nil:
			f.PhoneNumbers = append(f.PhoneNumbers, p.Number)
		case errors.Is(err, errNoExoPhone):
			// Perhaps a number the account no longer has: match it as given.
			n, _ := callNumber("PhoneNumber", item, false)
			f.PhoneNumbers = append(f.PhoneNumbers, callNumberSpellings(n)...)
		default:
			return f, nil, err
		}
	}

	if ps := one("PageSize"); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > v1MaxPageSize {
			return f, nil, badRequest(fmt.Sprintf("PageSize %q is not valid: 1 to %d", ps, v1MaxPageSize))
		}
		f.Limit = n
	}
	keep.Set("PageSize", strconv.Itoa(f.Limit))

	if sb := one("SortBy"); sb != "" {
		field, dir, _ := strings.Cut(sb, ":")
		switch {
		case !strings.EqualFold(field, "DateCreated"):
			return f, nil, badRequest(fmt.Sprintf("SortBy %q is not valid: DateCreated:asc or DateCreated:desc", sb))
		case strings.EqualFold(dir, "asc"):
			f.SortDesc = false
		case strings.EqualFold(dir, "desc"), dir == "":
		default:
			return f, nil, badRequest(fmt.Sprintf("SortBy %q is not valid: DateCreated:asc or DateCreated:desc", sb))
		}
	}
	one("RecordingUrlValidity") // checked by v1CallOptsOf; repeated in page URIs

	f.Before, f.After = strings.TrimSpace(q.Get("Before")), strings.TrimSpace(q.Get("After"))
	if f.Before != "" && f.After != "" {
		return f, nil, badRequest("give Before or After, not both")
	}
	return f, keep, nil
}

// v1DateRange parses DateCreated, gte:<time>;lte:<time> (either bound may
// be left out), times as YYYY-MM-DD HH:mm:ss in the server's zone (also
// YYYY-MM-DD, ISO 8601 with T, or RFC 3339 with a zone). Unset, it is the
// last 31 days; with one bound the other is 31 days away. A range longer
// than 31 days is refused.
func (s *Server) v1DateRange(v string, now time.Time) (from, to time.Time, err error) {
	if v == "" {
		return now.Add(-v1MaxDateRange), now, nil
	}
	bad := func(why string) error {
		return badRequest(fmt.Sprintf("DateCreated %q is not valid: %s; want gte:YYYY-MM-DD HH:mm:ss;lte:YYYY-MM-DD HH:mm:ss", v, why))
	}
	for _, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		op, val, ok := strings.Cut(part, ":")
		if !ok {
			return from, to, bad("no operator in " + strconv.Quote(part))
		}
		switch strings.ToLower(strings.TrimSpace(op)) {
		case "gte":
			if from, ok = s.v1FilterTime(val, false); !ok {
				return from, to, bad("unreadable time " + strconv.Quote(val))
			}
		case "lte":
			if to, ok = s.v1FilterTime(val, true); !ok {
				return from, to, bad("unreadable time " + strconv.Quote(val))
			}
		default:
			return from, to, bad("operator " + strconv.Quote(op) + " (use gte and lte)")
		}
	}
	switch {
	case from.IsZero() && to.IsZero():
		return from, to, bad("no bound")
	case from.IsZero():
		from = to.Add(-v1MaxDateRange)
	case to.IsZero():
		to = from.Add(v1MaxDateRange)
	case from.After(to):
		return from, to, bad("gte is after lte")
	case to.Sub(from) > v1MaxDateRange:
		return from, to, bad("the range is longer than a month (31 days)")
	}
	return from, to, nil
}

// v1FilterTime parses a time of a DateCreated filter; a date alone is the
// start of the day, or with end its last microsecond.
func (s *Server) v1FilterTime(v string, end bool) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, true
	}
	for _, layout := range []string{time.DateTime, "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, s.opts.TimeZone); err == nil {
			return t, true
		}
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, s.opts.TimeZone); err == nil {
		if end {
			t = t.AddDate(0, 0, 1).Add(-time.Microsecond)
		}
		return t, true
	}
	return time.Time{}, false
}

// v1RangeFilter parses a numeric filter of gte:, lte: and eq: terms joined by
// ';' (gte:10s;lte:45s, eq:30s) into optional bounds.
func v1RangeFilter(name, v string, parse func(string) (float64, bool), want string) (lo, hi *float64, err error) {
	bad := func(why string) error {
		return badRequest(fmt.Sprintf("%s %q is not valid: %s; want terms such as gte:X;lte:Y or eq:X, X being %s", name, v, why, want))
	}
	for _, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		op, val, ok := strings.Cut(part, ":")
		if !ok {
			return nil, nil, bad("no operator in " + strconv.Quote(part))
		}
		x, ok := parse(strings.TrimSpace(val))
		if !ok {
			return nil, nil, bad("unreadable value " + strconv.Quote(val))
		}
		switch strings.ToLower(strings.TrimSpace(op)) {
		case "gte":
			lo = v1MaxBound(lo, x)
		case "lte":
			hi = v1MinBound(hi, x)
		case "eq":
			lo, hi = v1MaxBound(lo, x), v1MinBound(hi, x)
		default:
			return nil, nil, bad("operator " + strconv.Quote(op) + " (use gte, lte or eq)")
		}
	}
	if lo == nil && hi == nil {
		return nil, nil, bad("no term")
	}
	return lo, hi, nil
}

func v1MaxBound(cur *float64, x float64) *float64 {
	if cur != nil && *cur > x {
		return cur
	}
	return &x
}

func v1MinBound(cur *float64, x float64) *float64 {
	if cur != nil && *cur < x {
		return cur
	}
	return &x
}

func v1IntBound(x *float64) *int {
	if x == nil {
		return nil
	}
	n := int(*x)
	return &n
}

// callNumberSpellings lists the ways a normalised number may have been stored:
// with and without the '+' of E.164 (a national number with its trunk 0
// has only one).
func callNumberSpellings(n string) []string {
	switch {
	case strings.HasPrefix(n, "+"):
		return []string{n, n[1:]}
	case callDigitsOnly(n) && n[0] != '0':
		return []string{n, "+" + n}
	}
	return []string{n}
}
