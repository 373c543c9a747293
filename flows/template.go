package flows

import (
	"strings"
	"text/template"
	"text/template/parse"
)

// MessageData is what SMS and email templates can use, e.g.
// "Missed call from {{.From}} at {{.StartTime}}".
type MessageData struct {
	CallSid      string
	From         string
	To           string
	Direction    string
	StartTime    string // "2006-01-02 15:04:05" UTC
	Digits       string
	DialStatus   string // outcome of the last connect: completed, busy, no-answer, failed
	DialWhom     string // the destination that answered, if any
	RecordingURL string
	CustomField  string
	FlowID       string
	ExoPhone     string // the virtual number the call belongs to
}

// template parses a message template and proves it runs on empty data, so
// a reference to an unknown field is a validation error, not a runtime one.
func (v configChecker) template(field, text string) *template.Template {
	if len(text) > MaxTemplate {
		v.errorf(field, "longer than %d characters", MaxTemplate)
		return nil
	}
	t, err := template.New(field).Option("missingkey=error").Parse(text)
	if err != nil {
		v.errorf(field, "template: %s", trimTemplateErr(err))
		return nil
	}
	if bad := firstNonField(t.Tree.Root); bad != "" {
		v.errorf(field, "template: only fields such as {{.From}} may be used, not %s", bad)
		return nil
	}
	if err := t.Execute(&strings.Builder{}, MessageData{}); err != nil {
		v.errorf(field, "template: %s", trimTemplateErr(err))
		return nil
	}
	return t
}

func trimTemplateErr(err error) string {
	s := err.Error()
	if _, rest, ok := strings.Cut(s, ": "); ok && strings.HasPrefix(s, "template: ") {
		return rest
	}
	return s
}

// render runs a template that validation already proved; a failure (which
// cannot come from the data, only from a flow built without Validate) falls
// back to the raw text so a message is never lost.
func render(t *template.Template, raw string, d MessageData) string {
	if t == nil {
		return raw
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return raw
	}
	return b.String()
}

// firstNonField returns the first template construct other than text and a
// plain field reference ({{.From}}), or "" if there is none. Templates come
// from customers: no loops, conditionals or functions run inside a call.
func firstNonField(list *parse.ListNode) string {
	for _, n := range list.Nodes {
		switch n := n.(type) {
		case *parse.TextNode, *parse.CommentNode:
		case *parse.ActionNode:
			p := n.Pipe
			if len(p.Decl) != 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
				return n.String()
			}
			if _, ok := p.Cmds[0].Args[0].(*parse.FieldNode); !ok {
				return n.String()
			}
		default:
			return n.String()
		}
	}
	return ""
}
