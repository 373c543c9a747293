package campaign

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// ContactColumns are the named columns of a contacts CSV; any other
// column is a custom field (an @@Column placeholder).
var ContactColumns = []string{"number", "first_name", "last_name", "company_name", "email", "tag", "timezone"}

// CSVError is a contacts CSV that cannot be read as a whole: no header,
// a header without a number column or with a column twice, malformed
// quoting. Line is 0 for the header.
type CSVError struct {
	Line    int
	Message string
}

func (e *CSVError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return e.Message
}

// ReadContactsCSV reads a contacts CSV (Exotel's list upload): a header
// row naming the columns in any order (case, spaces and dashes aside:
// "First Name" is first_name; a spreadsheet's byte order mark is
// skipped), then one contact per row. Values are trimmed, blank rows
// skipped. It calls row with each row's line and contact (the caller
// checks the values, and that the row has as many fields as the header
// has columns), and stops at row's first error. Errors of the file itself
// are *CSVError.
func ReadContactsCSV(src io.Reader, row func(line int, ct store.Contact, fields, columns int) error) error {
	r := csv.NewReader(src)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	switch {
	case errors.Is(err, io.EOF):
		return &CSVError{Message: "the CSV is empty: it needs a header row such as number,first_name,last_name,company_name,email,tag"}
	case err != nil:
		return csvErr(err)
	}
	cols := make([]string, len(header)) // a named column, or "" for a custom field
	custom := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		h = strings.TrimSpace(h)
		if h == "" {
			return &CSVError{Message: fmt.Sprintf("column %d of the header has no name", i+1)}
		}
		key := strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(h))
		if slices.Contains(ContactColumns, key) {
			cols[i] = key
		} else {
			custom[i], key = h, "custom:"+h
		}
		if seen[key] {
			return &CSVError{Message: fmt.Sprintf("column %q is in the header twice", clip(h))}
		}
		seen[key] = true
	}
	if !slices.Contains(cols, "number") {
		return &CSVError{Message: "the header has no number column: number,first_name,last_name,company_name,email,tag"}
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return csvErr(err)
		}
		line, _ := r.FieldPos(0)
		if strings.TrimSpace(strings.Join(rec, "")) == "" {
			continue // a spreadsheet's blank row
		}
		var ct store.Contact
		for i, v := range rec[:min(len(rec), len(cols))] {
			v = strings.TrimSpace(v)
			switch cols[i] {
			case "number":
				ct.Number = v
			case "first_name":
				ct.FirstName = v
			case "last_name":
				ct.LastName = v
			case "company_name":
				ct.CompanyName = v
			case "email":
				ct.Email = v
			case "tag":
				ct.Tag = v
			case "timezone":
				ct.Timezone = v
			default:
				if v != "" {
					if ct.CustomField == nil {
						ct.CustomField = map[string]string{}
					}
					ct.CustomField[custom[i]] = v
				}
			}
		}
		if err := row(line, ct, len(rec), len(cols)); err != nil {
			return err
		}
	}
}

func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &CSVError{Line: pe.Line, Message: fmt.Sprintf("malformed CSV: %v", pe.Err)}
	}
	return err
}
