package flows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// MaxDocumentSize bounds a flow document (1 MiB).
const MaxDocumentSize = 1 << 20

// Load decodes a flow document and validates it. It returns the flow (nil
// when the document is not even a JSON object of the right shape) and every
// problem found. Use problems.Err() to decide whether the flow is usable.
func Load(data []byte) (*Flow, Problems) {
	var c collector
	f := decode(&c, data)
	if f != nil {
		validate(&c, f)
	}
	sortProblems(c.list)
	return f, c.list
}

// Parse is Load for callers that want only a usable flow: it fails with an
// *InvalidError if the document has any error.
func Parse(data []byte) (*Flow, error) {
	f, problems := Load(data)
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

func decode(c *collector, data []byte) *Flow {
	if len(data) > MaxDocumentSize {
		c.errorf("", "", "document is %d bytes, larger than the %d allowed", len(data), MaxDocumentSize)
		return nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		c.errorf("", "", "not a JSON object: %s", jsonErr(err))
		return nil
	}
	f := &Flow{Applets: map[string]*Applet{}}
	for _, key := range sortedKeys(top) {
		raw := top[key]
		switch key {
		case "name":
			decodeField(c, "", key, raw, &f.Name)
		case "description":
			decodeField(c, "", key, raw, &f.Description)
		case "start":
			decodeField(c, "", key, raw, &f.Start)
		case "layout":
			decodeField(c, "", key, raw, &f.Layout)
		case "applets":
			var applets map[string]json.RawMessage
			if !decodeField(c, "", key, raw, &applets) {
				continue
			}
			for _, id := range sortedKeys(applets) {
				if a := decodeApplet(c, id, applets[id]); a != nil {
					f.Applets[id] = a
				}
			}
		default:
			c.errorf("", key, "unknown field")
		}
	}
	return f
}

func decodeApplet(c *collector, id string, data json.RawMessage) *Applet {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		c.errorf(id, "", "applet must be a JSON object")
		return nil
	}
	a := &Applet{ID: id}
	var config json.RawMessage
	for _, key := range sortedKeys(fields) {
		raw := fields[key]
		switch key {
		case "type":
			decodeField(c, id, key, raw, &a.Type)
		case "name":
			decodeField(c, id, key, raw, &a.Name)
		case "outputs":
			decodeField(c, id, key, raw, &a.Outputs)
		case "config":
			config = raw
		default:
			c.errorf(id, key, "unknown field")
		}
	}
	a.Config = newConfig(a.Type)
	if a.Config == nil { // validate reports the missing or unknown type
		return a
	}
	if len(config) == 0 || string(config) == "null" {
		return a
	}
	var generic any
	if err := json.Unmarshal(config, &generic); err != nil {
		c.errorf(id, "config", "%s", jsonErr(err))
		return a
	}
	if _, ok := generic.(map[string]any); !ok {
		c.errorf(id, "config", "must be a JSON object")
		return a
	}
	unknownFields(c, id, "config", generic, reflect.TypeOf(a.Config).Elem())
	if err := json.Unmarshal(config, a.Config); err != nil {
		c.errorf(id, "config"+typeErrField(err), "%s", jsonErr(err))
	}
	return a
}

// decodeField decodes one JSON value, recording a problem on failure.
func decodeField(c *collector, applet, field string, raw json.RawMessage, v any) bool {
	if err := json.Unmarshal(raw, v); err != nil {
		c.errorf(applet, field, "%s", jsonErr(err))
		return false
	}
	return true
}

// unknownFields walks a decoded JSON value next to the Go type it will be
// decoded into and reports every object key the type has no field for.
func unknownFields(c *collector, applet, path string, v any, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch val := v.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return
		}
		known := jsonFields(t)
		for _, key := range sortedKeys(val) {
			ft, ok := known[key]
			if !ok {
				c.errorf(applet, path+"."+key, "unknown field")
				continue
			}
			unknownFields(c, applet, path+"."+key, val[key], ft)
		}
	case []any:
		if t.Kind() != reflect.Slice {
			return
		}
		for i, e := range val {
			unknownFields(c, applet, fmt.Sprintf("%s[%d]", path, i), e, t.Elem())
		}
	}
}

func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func typeErrField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return "." + te.Field
	}
	return ""
}

func jsonErr(err error) string {
	if err == nil {
		return "null"
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("expected %s, got JSON %s", te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	}
	return err.Error()
}

func typeList() string {
	names := make([]string, 0, len(Types()))
	for _, t := range Types() {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortProblems(ps Problems) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Severity != b.Severity {
			return a.Severity < b.Severity
		}
		if a.Applet != b.Applet {
			return a.Applet < b.Applet
		}
		return a.Field < b.Field
	})
}

// Encode writes a flow as indented JSON, in the same shape Load reads.
func Encode(f *Flow) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode flow: %w", err)
	}
	return buf.Bytes(), nil
}
