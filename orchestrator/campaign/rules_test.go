package campaign

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

func TestWindowAcrossDaylightSaving(t *testing.T) {
	ny, err := Zone("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// Clocks in New York went forward at 02:00 on 2026-03-08: the window
	// opens at 09:00 local either side of it, 13:00 UTC after and 14:00
	// UTC before.
	tests := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"evening before the change", time.Date(2026, 3, 7, 22, 0, 0, 0, ny), time.Date(2026, 3, 8, 13, 0, 0, 0, time.UTC)},
		{"in the missing hour", time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC), time.Date(2026, 3, 8, 13, 0, 0, 0, time.UTC)},
		{"early on the day before", time.Date(2026, 3, 7, 6, 0, 0, 0, ny), time.Date(2026, 3, 7, 14, 0, 0, 0, time.UTC)},
		{"inside the window", time.Date(2026, 3, 8, 15, 0, 0, 0, time.UTC), time.Date(2026, 3, 8, 15, 0, 0, 0, time.UTC)},
		{"21:00 is closed", time.Date(2026, 3, 8, 21, 0, 0, 0, ny), time.Date(2026, 3, 9, 13, 0, 0, 0, time.UTC)},
		// Back to standard time on 2026-11-01.
		{"autumn change", time.Date(2026, 10, 31, 23, 0, 0, 0, ny), time.Date(2026, 11, 1, 14, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		if got := DefaultWindow.Next(tt.at, ny); !got.Equal(tt.want) {
			t.Errorf("%s: Next(%s) = %s, want %s", tt.name, tt.at.UTC(), got.UTC(), tt.want)
		}
	}
	kolkata, _ := Zone("")
	at := time.Date(2026, 3, 8, 2, 0, 0, 0, time.UTC) // 07:30 IST
	if got := DefaultWindow.Next(at, kolkata); !got.Equal(time.Date(2026, 3, 8, 3, 30, 0, 0, time.UTC)) {
		t.Errorf("Kolkata: %s", got.UTC())
	}
	if got := Always.Next(at, kolkata); !got.Equal(at) {
		t.Errorf("always: %s", got)
	}
}

func TestParseWindow(t *testing.T) {
	for _, tt := range []struct {
		start, end string
		want       Window
		ok         bool
	}{
		{"", "", DefaultWindow, true},
		{"00:00", "24:00", Always, true},
		{"08:30", "20:15", Window{510, 1215}, true},
		{"21:00", "09:00", Window{}, false},
		{"9:00", "21:00", Window{}, false},
		{"09:00", "24:30", Window{}, false},
		{"09:60", "21:00", Window{}, false},
	} {
		got, err := ParseWindow(tt.start, tt.end)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseWindow(%q, %q) = %v, %v", tt.start, tt.end, got, err)
		}
	}
}

func TestRetryAt(t *testing.T) {
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	lin := store.RetryPolicy{NumberOfRetries: 2, IntervalMins: 10, Mechanism: Linear, OnStatus: []string{"busy", "no-answer"}}
	exp := store.RetryPolicy{NumberOfRetries: 3, IntervalMins: 5, Mechanism: Exponential}
	mins := func(p *time.Time) int {
		if p == nil {
			return -1
		}
		return int(p.Sub(at) / time.Minute)
	}
	for _, tt := range []struct {
		p       store.RetryPolicy
		attempt int
		status  string
		want    int
	}{
		{lin, 1, "busy", 10},
		{lin, 2, "no-answer", 10},
		{lin, 3, "busy", -1},      // retries used up
		{lin, 1, "failed", -1},    // not in on_status
		{lin, 1, "completed", -1}, // answered
		{exp, 1, "failed", 5},     // every status by default
		{exp, 2, "busy", 10},      // doubling
		{exp, 3, "no-answer", 20}, // and again
		{exp, 4, "no-answer", -1}, // three retries at most
		{store.RetryPolicy{}, 1, "busy", -1},
	} {
		if got := mins(RetryAt(tt.p, tt.attempt, tt.status, at)); got != tt.want {
			t.Errorf("RetryAt(%+v, %d, %s) = %d min, want %d", tt.p, tt.attempt, tt.status, got, tt.want)
		}
	}
}

func TestNextRunWeekdaysInKolkata(t *testing.T) {
	loc, _ := Zone("Asia/Kolkata")
	// Friday 2026-12-04 11:00 IST: the next weekday 10:00 is Monday.
	after := time.Date(2026, 12, 4, 11, 0, 0, 0, loc)
	got, err := NextRun("0 10 * * 1-5", loc, after)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 7, 10, 0, 0, 0, loc); !got.Equal(want) {
		t.Fatalf("next run %s, want %s", got, want)
	}
	ny, _ := Zone("America/New_York")
	got, _ = NextRun("0 10 * * *", ny, time.Date(2026, 3, 7, 12, 0, 0, 0, ny))
	if want := time.Date(2026, 3, 8, 14, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("across DST: %s, want %s", got.UTC(), want)
	}
	if _, err := ParseRecurrence("every day"); err == nil {
		t.Fatal("nonsense accepted")
	}
}

func TestFlowIDOf(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"http://my.exotel.com/acme1/exoml/start_voice/926", "926"},
		{"https://my.in.exotel.com/acme1/exoml/start_voice/fl_1", "fl_1"},
		{"http://my.exotel.in/exoml/start/42", "42"},
		{"http://my.exotel.com/other/exoml/start_voice/926", ""},
		{"ftp://my.exotel.com/acme1/exoml/start_voice/926", ""},
		{"http://my.exotel.com/acme1/exoml/start_voice/", ""},
	} {
		got, err := FlowIDOf(tt.in, "acme1")
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("FlowIDOf(%q) = %q, %v", tt.in, got, err)
		}
	}
}
