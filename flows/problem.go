package flows

import (
	"fmt"
	"strings"
)

// Severity grades a problem.
type Severity int

// Severities. An error makes a flow unusable; a warning does not.
const (
	SeverityUnknown Severity = iota
	SeverityError
	SeverityWarning
)

func (s Severity) String() string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return "unknown"
}

// MarshalText makes severities readable in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Problem is one thing wrong with a flow document.
type Problem struct {
	Severity Severity `json:"severity"`
	// Applet is the applet id, empty for document-level problems.
	Applet string `json:"applet,omitempty"`
	// Field is the JSON path inside the applet (or document), e.g.
	// "config.timeout" or "outputs.1".
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Severity.String())
	b.WriteString(": ")
	if p.Applet != "" {
		fmt.Fprintf(&b, "applet %q: ", p.Applet)
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is the result of validating a flow.
type Problems []Problem

// HasErrors reports whether any problem is an error.
func (ps Problems) HasErrors() bool {
	for _, p := range ps {
		if p.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Errors returns only the errors.
func (ps Problems) Errors() Problems { return ps.filter(SeverityError) }

// Warnings returns only the warnings.
func (ps Problems) Warnings() Problems { return ps.filter(SeverityWarning) }

func (ps Problems) filter(s Severity) Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// Err returns nil when there are no errors, otherwise an *InvalidError
// holding every error.
func (ps Problems) Err() error {
	errs := ps.Errors()
	if len(errs) == 0 {
		return nil
	}
	return &InvalidError{Problems: errs}
}

// InvalidError is returned for a flow document with errors.
type InvalidError struct {
	Problems Problems
}

func (e *InvalidError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "invalid flow: " + strings.Join(lines, "; ")
}

// collector accumulates problems while walking a document.
type collector struct {
	list Problems
}

func (c *collector) errorf(applet, field, format string, args ...any) {
	c.list = append(c.list, Problem{SeverityError, applet, field, fmt.Sprintf(format, args...)})
}

func (c *collector) warnf(applet, field, format string, args ...any) {
	c.list = append(c.list, Problem{SeverityWarning, applet, field, fmt.Sprintf(format, args...)})
}
