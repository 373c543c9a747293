package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// logPageSize is how many calls a page of the log shows.
const logPageSize = 25

// Filter choices of the log.
var (
	logStatuses = []store.Status{store.Queued, store.Ringing, store.InProgress, store.Completed,
		store.Busy, store.NoAnswer, store.Failed, store.Canceled}
	logDirections = []string{store.DirectionInbound, store.DirectionOutboundAPI, store.DirectionOutboundDial}
)

// logFilter is the log's filter form, as the user filled it.
type logFilter struct {
	Status, Direction, From, To, Since, Until string
}

// query is the filter as URL parameters (empty ones left out).
func (f logFilter) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"status": f.Status, "direction": f.Direction, "from": f.From,
		"to": f.To, "since": f.Since, "until": f.Until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// callLogView is the call log page's data.
type callLogView struct {
	Filter     logFilter
	Statuses   []store.Status
	Directions []string
	Calls      []store.Call
	Total      int64
	// Newer and Older link the neighbouring pages ("" at either end).
	Newer, Older string
	Error        string
}

// callLog is the call log: the account's calls, newest first, filtered
// by status, direction, from, to and a range of days, a page at a time.
func (cs *console) callLog(c echo.Context) error {
	s := sessionFrom(c)
	f := logFilter{
		Status:    strings.TrimSpace(c.QueryParam("status")),
		Direction: strings.TrimSpace(c.QueryParam("direction")),
		From:      strings.TrimSpace(c.QueryParam("from")),
		To:        strings.TrimSpace(c.QueryParam("to")),
		Since:     strings.TrimSpace(c.QueryParam("since")),
		Until:     strings.TrimSpace(c.QueryParam("until")),
	}
	v := callLogView{Filter: f, Statuses: logStatuses, Directions: logDirections}
	sf, err := cs.storeFilter(f)
	if err != nil {
		v.Error = err.Error()
		return cs.pageStatus(c, http.StatusBadRequest, "calls", "Call log", "calls", v)
	}
	sf.After, sf.Before = c.QueryParam("after"), c.QueryParam("before")
	if sf.After != "" && sf.Before != "" {
		sf.Before = ""
	}
	page, err := cs.d.Store.Calls().List(c.Request().Context(), s.Account, sf)
	if errors.Is(err, store.ErrInvalid) {
		v.Error = "That page link is out of date; showing the newest calls."
		sf.After, sf.Before = "", ""
		page, err = cs.d.Store.Calls().List(c.Request().Context(), s.Account, sf)
	}
	if err != nil {
		return fmt.Errorf("console: call log: %w", err)
	}
	v.Calls, v.Total = page.Calls, page.Total
	link := func(cursor, value string) string {
		q := f.query()
		q.Set(cursor, value)
		return Prefix + "/calls?" + q.Encode()
	}
	if page.Prev != "" {
		v.Newer = link("before", page.Prev)
	}
	if page.Next != "" {
		v.Older = link("after", page.Next)
	}
	return cs.page(c, "calls", "Call log", "calls", v)
}

// storeFilter reads the log's filter form; an error says what is wrong,
// for the user.
func (cs *console) storeFilter(f logFilter) (store.CallFilter, error) {
	sf := store.CallFilter{SortDesc: true, Limit: logPageSize}
	if f.Status != "" {
		st, err := store.ParseStatus(f.Status)
		if err != nil {
			return sf, fmt.Errorf("status %q is not a call status", clip(f.Status))
		}
		sf.Statuses = []store.Status{st}
	}
	if f.Direction != "" {
		if !slices.Contains(logDirections, f.Direction) {
			return sf, fmt.Errorf("direction %q is not inbound, outbound-api or outbound-dial", clip(f.Direction))
		}
		sf.Direction = f.Direction
	}
	sf.From, sf.To = spellings(f.From), spellings(f.To)
	day := func(name, v string) (time.Time, error) {
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.ParseInLocation("2006-01-02", v, cs.d.TimeZone)
		if err != nil {
			return t, fmt.Errorf("%s %q is not a date (YYYY-MM-DD)", name, clip(v))
		}
		return t, nil
	}
	var err error
	if sf.CreatedFrom, err = day("from date", f.Since); err != nil {
		return sf, err
	}
	until, err := day("to date", f.Until)
	if err != nil {
		return sf, err
	}
	if !until.IsZero() {
		// The whole last day.
		sf.CreatedTo = until.AddDate(0, 0, 1).Add(-time.Microsecond)
	}
	if !sf.CreatedFrom.IsZero() && !sf.CreatedTo.IsZero() && sf.CreatedTo.Before(sf.CreatedFrom) {
		return sf, errors.New("the to date is before the from date")
	}
	return sf, nil
}

// spellings are the ways a number may be stored: as typed, and with or
// without a leading + (calls keep what the caller or the API gave).
func spellings(n string) []string {
	n = strings.Join(strings.Fields(n), "")
	if n == "" {
		return nil
	}
	if rest, ok := strings.CutPrefix(n, "+"); ok {
		return []string{n, rest}
	}
	if strings.Trim(n, "0123456789") == "" {
		return []string{n, "+" + n}
	}
	return []string{n}
}

// callView is a call's page data.
type callView struct {
	Call     *store.Call
	FlowName string
	Timeline timeline
	Requests []store.CallRequest
	Messages []store.Message
	SMS      []store.SMSMessage
	// Recordings play in the page from pre-signed URLs.
	Recordings []recordingRow
	Callbacks  []callbackRow
	// Path is the applets the call's flow ran through, in order, as its
	// final record keeps them; PathCut: it is as long as a path gets
	// (store.MaxAppletPath), so applets may be missing before its last.
	Path    []pathStep
	PathCut bool
	// Applets, for a call without a path (still running, or from before
	// paths were kept), are the applets that called the customer's
	// servers or sent messages, in order.
	Applets []appletStep
}

// pathStep is an applet of the call's path, with its flow's page.
type pathStep struct {
	store.AppletStep
	// OtherFlow: the applet is not of the call's own flow (a transfer
	// moved the call on).
	OtherFlow bool
	FlowURL   string
}

type recordingRow struct {
	store.Recording
	PlayURL string
}

type callbackRow struct {
	store.Callback
	Attempts []store.CallbackAttempt
}

type appletStep struct {
	At     time.Time
	Applet string
	What   string
}

// callPage is one call: its record, its legs on a timeline, the
// requests its flow made, its messages, recordings and status
// callbacks. Another account's call is 404.
func (cs *console) callPage(c echo.Context) error {
	s := sessionFrom(c)
	sid := strings.ToLower(c.Param("sid"))
	if !store.ValidSID(sid) {
		return notFound("call " + clip(c.Param("sid")))
	}
	ctx := c.Request().Context()
	call, err := cs.d.Store.Calls().Get(ctx, s.Account, sid)
	if err != nil {
		return storeErr(err, "call "+sid)
	}
	v := callView{Call: call}
	if call.FlowID != nil {
		if f, err := cs.d.Store.Flows().Get(ctx, s.Account, *call.FlowID); err == nil {
			v.FlowName = f.Name
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("console: flow of call %s: %w", sid, err)
		}
	}
	legs, err := cs.d.Store.Legs().ByCall(ctx, s.Account, sid)
	if err != nil {
		return fmt.Errorf("console: legs of call %s: %w", sid, err)
	}
	v.Timeline = buildTimeline(call, legs, cs.d.Now(), cs.when)
	if v.Requests, err = cs.d.Store.CallRequests().ByCall(ctx, s.Account, sid); err != nil {
		return fmt.Errorf("console: requests of call %s: %w", sid, err)
	}
	if v.Messages, err = cs.d.Store.Messages().ByCall(ctx, s.Account, sid); err != nil {
		return fmt.Errorf("console: messages of call %s: %w", sid, err)
	}
	if v.SMS, err = cs.d.Store.SMS().ByCall(ctx, s.Account, sid); err != nil {
		return fmt.Errorf("console: SMS of call %s: %w", sid, err)
	}
	recs, err := cs.d.Store.Recordings().ByCall(ctx, s.Account, sid)
	if err != nil {
		return fmt.Errorf("console: recordings of call %s: %w", sid, err)
	}
	for _, r := range recs {
		row := recordingRow{Recording: r}
		if cs.d.RecordingURL != nil {
			row.PlayURL = cs.d.RecordingURL(s.Account, r.ID)
		}
		v.Recordings = append(v.Recordings, row)
	}
	cbs, err := cs.d.Store.Callbacks().ByCall(ctx, s.Account, sid)
	if err != nil {
		return fmt.Errorf("console: callbacks of call %s: %w", sid, err)
	}
	attempts, err := cs.d.Store.Callbacks().Attempts(ctx, s.Account, sid)
	if err != nil {
		return fmt.Errorf("console: callback attempts of call %s: %w", sid, err)
	}
	for _, cb := range cbs {
		row := callbackRow{Callback: cb}
		for _, a := range attempts {
			if a.CallbackID == cb.ID {
				row.Attempts = append(row.Attempts, a)
			}
		}
		v.Callbacks = append(v.Callbacks, row)
	}
	v.Path, v.PathCut = pathSteps(call), len(call.AppletPath) >= store.MaxAppletPath
	if len(v.Path) == 0 {
		v.Applets = appletPath(v.Requests, v.Messages)
	}
	return cs.page(c, "call", "Call "+sid, "calls", v)
}

// pathSteps is the call's applet path, each step linking to its flow.
func pathSteps(call *store.Call) []pathStep {
	out := make([]pathStep, len(call.AppletPath))
	for i, st := range call.AppletPath {
		out[i] = pathStep{AppletStep: st, OtherFlow: call.FlowID == nil || st.Flow != *call.FlowID,
			FlowURL: Prefix + "/flows/" + url.PathEscape(st.Flow)}
	}
	return out
}

// appletPath puts the applets the requests and messages name in the
// order they acted.
func appletPath(reqs []store.CallRequest, msgs []store.Message) []appletStep {
	var out []appletStep
	for _, r := range reqs {
		out = append(out, appletStep{At: r.CreatedAt, Applet: r.Applet, What: r.Kind + " request: " + r.Outcome})
	}
	for _, m := range msgs {
		out = append(out, appletStep{At: m.CreatedAt, Applet: m.Applet, What: m.Channel + " " + m.Status})
	}
	slices.SortStableFunc(out, func(a, b appletStep) int { return a.At.Compare(b.At) })
	return out
}
