// Package exotime is how Exotel writes time, for everything Switchyard
// sends or answers in its shapes: the zone (IST, +05:30, no daylight
// saving) and the v1 layout YYYY-MM-DD HH:mm:ss, which carries no zone.
package exotime

import "time"

// IST is India Standard Time. It is a fixed zone, so no time zone
// database is needed.
var IST = time.FixedZone("IST", 5*3600+30*60)

// Layout is Exotel's v1 timestamp layout.
const Layout = time.DateTime

// Format writes t in zone (nil means IST) with Layout.
func Format(t time.Time, zone *time.Location) string {
	if zone == nil {
		zone = IST
	}
	return t.In(zone).Format(Layout)
}
