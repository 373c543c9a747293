package api

import (
	"encoding/csv"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// v2CallDetail is one call of a campaign's report (§6.3), with the
// attempt it was for the number (1 for the first call, 2 for the first
// retry, …).
type v2CallDetail struct {
	Number       string  `json:"number"`
	Name         *string `json:"name"`
	Duration     int     `json:"duration"`
	Status       string  `json:"status"`
	Digits       *string `json:"digits"`
	RecordingURL *string `json:"recording_url"`
	StartTime    *string `json:"start_time"`
	EndTime      *string `json:"end_time"`
	CallerID     string  `json:"caller_id"`
	Direction    string  `json:"direction"`
	CallSID      string  `json:"call_sid"`
	DateCreated  string  `json:"date_created"`
	Attempt      int     `json:"attempt"`
}

// v2ReportStatuses are the status filter's values: an attempt's outcome,
// or in-progress for a call that has not ended.
var v2ReportStatuses = map[string]string{
	store.NumberCompleted: store.NumberCompleted, store.NumberFailed: store.NumberFailed,
	store.NumberBusy: store.NumberBusy, store.NumberNoAnswer: store.NumberNoAnswer,
	"in-progress": store.AttemptDialing,
}

// v2ReportFilter reads the report's status and sort_by.
func v2ReportFilter(c echo.Context) (store.ReportFilter, error) {
	var f store.ReportFilter
	for _, st := range strings.Split(c.QueryParam("status"), ",") {
		st = strings.ToLower(strings.TrimSpace(st))
		if st == "" {
			continue
		}
		v, ok := v2ReportStatuses[strings.ReplaceAll(st, "_", "-")]
		if !ok {
			return f, badRequest(fmt.Sprintf("status %q is not valid: completed, failed, busy, no-answer or in-progress", clipText(st)))
		}
		f.Statuses = append(f.Statuses, v)
	}
	var err error
	if _, f.Desc, err = v2Sort(c, "date_created"); err != nil {
		return f, err
	}
	return f, nil
}

func v2CallDetailOf(cp *store.Campaign, r *store.ReportRow) v2CallDetail {
	d := v2CallDetail{
		Number:       r.Number,
		Name:         v2Str(r.Name),
		Duration:     r.Duration,
		Status:       r.Status,
		Digits:       v2Str(r.Digits),
		RecordingURL: v2Str(r.RecordingURL),
		StartTime:    v2Time(r.StartTime),
		EndTime:      v2Time(r.EndTime),
		CallerID:     r.CallerID,
		Direction:    "Outgoing",
		CallSID:      r.CallSID,
		DateCreated:  campaign.Time(r.CreatedAt),
		Attempt:      r.Attempt,
	}
	if d.Status == store.AttemptDialing {
		d.Status = "in-progress"
	}
	if d.CallerID == "" {
		d.CallerID = cp.CallerID
	}
	return d
}

// v2CallDetails is GET /campaigns/:campaign_sid/call-details: the calls
// the campaign placed, a page at a time (offset, limit, status, sort_by);
// the whole report as CSV with format=csv or Accept: text/csv.
func (s *Server) v2CallDetails(c echo.Context) error {
	asCSV := false
	switch strings.ToLower(strings.TrimSpace(c.QueryParam("format"))) {
	case "csv":
		asCSV = true
	case "", "json":
		asCSV = c.QueryParam("format") == "" && v2AcceptsCSV(c.Request().Header.Get(echo.HeaderAccept))
	default:
		return badRequest(fmt.Sprintf("format %q is not valid: json or csv", clipText(c.QueryParam("format"))))
	}
	if asCSV {
		return s.v2CallDetailsCSV(c)
	}
	p, err := v2Page(c)
	if err != nil {
		return err
	}
	f, err := v2ReportFilter(c)
	if err != nil {
		return err
	}
	f.Page = p
	cp, err := s.v2LoadCampaign(c)
	if err != nil {
		return err
	}
	rows, total, err := s.store.Campaigns().Report(c.Request().Context(), cp.AccountSID, cp.SID, f)
	if err != nil {
		return v2Fail(err, "campaign "+cp.SID)
	}
	items := make([]v2CallDetail, len(rows))
	for i := range rows {
		items[i] = v2CallDetailOf(cp, &rows[i])
	}
	return writeList(c, p, int64(total), items)
}

// v2AcceptsCSV reports whether an Accept header prefers CSV to JSON: it
// names text/csv, and JSON not before it.
func v2AcceptsCSV(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch {
		case v2CSVType(mt):
			return true
		case mt == echo.MIMEApplicationJSON:
			return false
		}
	}
	return false
}

// v2ReportColumns is the CSV report's header.
var v2ReportColumns = []string{"number", "name", "duration", "status", "digits", "recording_url", "start_time",
	"end_time", "caller_id", "direction", "call_sid", "date_created", "attempt"}

// v2CallDetailsCSV is GET /campaigns/:campaign_sid/call-details.csv (and
// call-details with format=csv): every call of the report (status and
// sort_by apply) as a CSV download with a header row.
func (s *Server) v2CallDetailsCSV(c echo.Context) error {
	f, err := v2ReportFilter(c)
	if err != nil {
		return err
	}
	f.All = true
	cp, err := s.v2LoadCampaign(c)
	if err != nil {
		return err
	}
	rows, _, err := s.store.Campaigns().Report(c.Request().Context(), cp.AccountSID, cp.SID, f)
	if err != nil {
		return v2Fail(err, "campaign "+cp.SID)
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="campaign-%s-call-details.csv"`, cp.SID))
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	if err := w.Write(v2ReportColumns); err != nil {
		return fmt.Errorf("api: write report: %w", err)
	}
	opt := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	for i := range rows {
		d := v2CallDetailOf(cp, &rows[i])
		rec := []string{d.Number, v2CSVText(opt(d.Name)), strconv.Itoa(d.Duration), d.Status, opt(d.Digits),
			opt(d.RecordingURL), opt(d.StartTime), opt(d.EndTime), d.CallerID, d.Direction, d.CallSID, d.DateCreated,
			strconv.Itoa(d.Attempt)}
		if err := w.Write(rec); err != nil {
			return fmt.Errorf("api: write report: %w", err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("api: write report: %w", err)
	}
	return nil
}

// v2CSVText keeps free text a spreadsheet would take for a formula (it
// starts with =, +, -, @ or a control character) as text, behind a '.
func v2CSVText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
