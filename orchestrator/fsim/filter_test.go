package fsim

import "testing"

// Filters read their values as mod_event_socket does: a leading '+' or
// '-' (spaces between) says positive or negative, a value that starts
// with '/' is a pattern, anything else is compared without case, and
// a positive filter is only looked at until one has matched.
func TestFiltersReadTheirValuesAsFreeSWITCHDoes(t *testing.T) {
	answer := &event{name: "CHANNEL_ANSWER", uuid: "u1", hdrs: []hdr{{name: "Application", value: "playback"}}}
	multiset := &event{name: "CHANNEL_EXECUTE_COMPLETE", uuid: "u1", hdrs: []hdr{{name: "Application", value: "multiset"}}}
	answered := &event{name: "CHANNEL_EXECUTE_COMPLETE", uuid: "u1", hdrs: []hdr{{name: "Application", value: "answer"}}}
	other := &event{name: "CHANNEL_ANSWER", uuid: "u2"}
	type pair struct{ header, value string }
	for _, tc := range []struct {
		name    string
		filters []pair
		pass    map[*event]bool
	}{
		{"positive", []pair{{"Unique-ID", "u1"}}, map[*event]bool{answer: true, multiset: true, other: false}},
		{"case", []pair{{"Unique-ID", "U1"}}, map[*event]bool{answer: true, other: false}},
		{"negative", []pair{{"Unique-ID", "u1"}, {"Application", "-multiset"}},
			map[*event]bool{answer: true, multiset: false, other: false}},
		// A call's socket: its channel, less two applications' completions.
		{"two negatives on one header", []pair{{"Unique-ID", "u1"}, {"Application", "-multiset"}, {"Application", "-answer"}},
			map[*event]bool{answer: true, multiset: false, answered: false, other: false}},
		{"negative before positive", []pair{{"Application", " - MULTISET"}, {"Unique-ID", "u1"}},
			map[*event]bool{answer: true, multiset: false}},
		{"pattern", []pair{{"Event-Name", "/^CHANNEL_EXEC/"}}, map[*event]bool{answer: false, multiset: true}},
		// Only a value sent starting with '/' is a pattern: this one is
		// the text "/^multi/", which no application is called.
		{"negative text, not a pattern", []pair{{"Unique-ID", "u1"}, {"Application", "-/^multi/"}},
			map[*event]bool{answer: true, multiset: true}},
		{"no header, no say", []pair{{"Application", "multiset"}}, map[*event]bool{other: false, multiset: true}},
	} {
		c := &conn{}
		for _, f := range tc.filters {
			c.filters = append(c.filters, newFilter(f.header, f.value))
		}
		for ev, want := range tc.pass {
			if got := c.passFilters(ev); got != want {
				t.Errorf("%s: %s of %s passes %v, want %v", tc.name, ev.name, ev.uuid, got, want)
			}
		}
	}
}
