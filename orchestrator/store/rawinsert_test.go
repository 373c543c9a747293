package store

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm/schema"
)

// The hot inserts are written by hand; each must name every column its
// model has, so a field added to a model cannot be left out of them.
func TestHandWrittenInsertsNameEveryColumn(t *testing.T) {
	for _, c := range []struct {
		model any
		query string
	}{
		{&Call{}, insertCall},
		{&Leg{}, insertLeg + "?)"},
		{&Recording{}, insertRecording},
	} {
		s, err := schema.Parse(c.model, &sync.Map{}, schema.NamingStrategy{})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, f := range s.Fields {
			if f.DBName != "" {
				want = append(want, f.DBName)
			}
		}
		m := regexp.MustCompile(`(?s)INSERT INTO (\w+) \((.*?)\)\s*VALUES \((.*)\)`).FindStringSubmatch(c.query)
		if m == nil {
			t.Fatalf("%s: not an insert: %q", s.Table, c.query)
		}
		if m[1] != s.Table {
			t.Errorf("insert into %s, model's table %s", m[1], s.Table)
		}
		var got []string
		for col := range strings.SplitSeq(m[2], ",") {
			got = append(got, strings.TrimSpace(col))
		}
		if n := strings.Count(m[3], "?"); n != len(got) {
			t.Errorf("%s: %d columns, %d placeholders", s.Table, len(got), n)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: insert names %v, model has %v", s.Table, got, want)
		}
	}
}
