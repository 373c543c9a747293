package campaign

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultZone is the zone of a campaign that names none: Exotel's
// customers are mostly in India.
const DefaultZone = "Asia/Kolkata"

// Window is the local hours in which a number may be called: from Start
// to End minutes after local midnight. Start 0 and End 1440 is any time.
type Window struct{ Start, End int }

// DefaultWindow is 09:00 to 21:00 in the contact's zone.
var DefaultWindow = Window{Start: 9 * 60, End: 21 * 60}

// Always is a window that never closes.
var Always = Window{Start: 0, End: 24 * 60}

// ParseWindow reads "HH:MM" start and end ("24:00" ends at midnight).
// Both empty is DefaultWindow.
func ParseWindow(start, end string) (Window, error) {
	if start == "" && end == "" {
		return DefaultWindow, nil
	}
	s, err := clock(start)
	if err != nil {
		return Window{}, fmt.Errorf("start: %w", err)
	}
	e, err := clock(end)
	if err != nil {
		return Window{}, fmt.Errorf("end: %w", err)
	}
	if s >= e {
		return Window{}, fmt.Errorf("start %s is not before end %s", start, end)
	}
	return Window{Start: s, End: e}, nil
}

func clock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || len(h) != 2 || len(m) != 2 || err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return hh*60 + mm, nil
}

// String writes the window as "HH:MM-HH:MM".
func (w Window) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", w.Start/60, w.Start%60, w.End/60, w.End%60)
}

// Next returns the first moment at or after at that lies in the window,
// in loc's local time (daylight saving included: 09:00 is 09:00 on the
// day the clocks change too).
func (w Window) Next(at time.Time, loc *time.Location) time.Time {
	if w == Always {
		return at
	}
	l := at.In(loc)
	day := func(offset int) (time.Time, time.Time) {
		y, m, d := l.Date()
		open := time.Date(y, m, d+offset, w.Start/60, w.Start%60, 0, 0, loc)
		shut := time.Date(y, m, d+offset, w.End/60, w.End%60, 0, 0, loc)
		return open, shut
	}
	open, shut := day(0)
	switch {
	case at.Before(open):
		return open
	case at.Before(shut):
		return at
	}
	open, _ = day(1)
	return open
}

// Zone loads an IANA zone name; "" is DefaultZone.
func Zone(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return loc, nil
}
