// Package numinfo answers what a phone number is: its type (mobile,
// landline, toll-free), telecom circle and operator, from a table of
// number series looked up by longest prefix. Switchyard ships a small
// table (series.csv) and takes an operator's own series file on top.
package numinfo

import (
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Number types.
const (
	Mobile   = "Mobile"
	Landline = "Landline"
	TollFree = "TollFree"
	Unknown  = "Unknown"
)

// Info is what the table says about one number. Empty fields are not
// known.
type Info struct {
	// E164 is the number in E.164 form (+919876543210).
	E164         string
	Type         string
	Circle       string
	CircleName   string
	Operator     string
	OperatorName string
}

// Table maps number prefixes (E.164 digits without the +) to what they
// are. The zero Table knows nothing; it is read-only once built and safe
// for concurrent use.
type Table struct {
	series  map[string]Info
	longest int
}

//go:embed series.csv
var builtin string

// Builtin returns the table Switchyard ships.
func Builtin() *Table {
	t := &Table{}
	if err := t.Load(strings.NewReader(builtin)); err != nil {
		panic(fmt.Sprintf("numinfo: the built-in series table is broken: %v", err))
	}
	return t
}

// columns of a series file.
var columns = []string{"prefix", "type", "circle", "circle_name", "operator", "operator_name"}

// ErrFormat: a series file is not in the expected shape.
var ErrFormat = errors.New("not a number series file")

// Load adds the series of a CSV file (the columns of series.csv, with its
// header; lines starting with # are comments) to the table; a prefix
// already in the table is replaced. Nothing is added when the file has an
// error.
func (t *Table) Load(r io.Reader) error {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = len(columns)
	cr.TrimLeadingSpace = true
	rows, err := cr.ReadAll()
	if err != nil {
		return fmt.Errorf("numinfo: %w: %w", ErrFormat, err)
	}
	if len(rows) == 0 || !strings.EqualFold(strings.Join(rows[0], ","), strings.Join(columns, ",")) {
		return fmt.Errorf("numinfo: %w: the first line must be %s", ErrFormat, strings.Join(columns, ","))
	}
	add := make(map[string]Info, len(rows)-1)
	for i, row := range rows[1:] {
		prefix := strings.TrimPrefix(strings.TrimSpace(row[0]), "+")
		if prefix == "" || strings.Trim(prefix, "0123456789") != "" {
			return fmt.Errorf("numinfo: line %d: prefix %q is not digits: %w", i+2, row[0], ErrFormat)
		}
		typ := strings.TrimSpace(row[1])
		switch typ {
		case Mobile, Landline, TollFree:
		default:
			return fmt.Errorf("numinfo: line %d: type %q is not Mobile, Landline or TollFree: %w", i+2, row[1], ErrFormat)
		}
		add[prefix] = Info{Type: typ, Circle: strings.TrimSpace(row[2]), CircleName: strings.TrimSpace(row[3]),
			Operator: strings.TrimSpace(row[4]), OperatorName: strings.TrimSpace(row[5])}
	}
	if t.series == nil {
		t.series = make(map[string]Info, len(add))
	}
	for p, info := range add {
		t.series[p] = info
		t.longest = max(t.longest, len(p))
	}
	return nil
}

// Lookup returns what the table knows of an E.164 number (+ and digits):
// the entry of its longest matching prefix, or Type Unknown.
func (t *Table) Lookup(e164 string) Info {
	digits := strings.TrimPrefix(e164, "+")
	for n := min(len(digits), t.longest); n > 0; n-- {
		if info, ok := t.series[digits[:n]]; ok {
			info.E164 = "+" + digits
			return info
		}
	}
	return Info{E164: "+" + digits, Type: Unknown}
}

// Parse reads a number as Exotel's clients write Indian numbers: E.164
// (+919876543210), or without the + (919876543210), with the trunk
// prefix 0 (09876543210, 08047000000) or as the bare 10-digit national
// number (9876543210). Spaces, dashes, dots and parentheses are ignored.
// Any other number must be in E.164 form.
func Parse(s string) (string, bool) {
	var b strings.Builder
	plus := false
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ', r == '-', r == '.', r == '(', r == ')':
		default:
			return "", false
		}
	}
	d := b.String()
	switch {
	case plus:
	case len(d) == 10 && d[0] >= '6':
		d = "91" + d
	case len(d) == 11 && d[0] == '0' && d[1] != '0':
		d = "91" + d[1:]
	case len(d) == 12 && strings.HasPrefix(d, "91"):
	case len(d) >= 11 && d[0] != '0':
		// Already international, without the +.
	default:
		return "", false
	}
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", false
	}
	return "+" + d, true
}
