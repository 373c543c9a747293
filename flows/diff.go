package flows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"unicode/utf8"
)

// ChangeKind says what a Change did.
type ChangeKind string

// Kinds of change between two flow documents.
const (
	Added   ChangeKind = "added"
	Removed ChangeKind = "removed"
	Changed ChangeKind = "changed"
	// Moved is an applet whose position on the canvas changed, and
	// nothing else about it.
	Moved ChangeKind = "moved"
)

// Change is one difference between two flow documents.
type Change struct {
	Kind ChangeKind `json:"kind"`
	// Applet is the applet's id; empty for the document's own fields.
	Applet string `json:"applet,omitempty"`
	// Field is the JSON path inside the applet (or the document) of a
	// changed value, e.g. "config.ring_timeout" or "outputs.1"; empty
	// when a whole applet was added, removed or moved.
	Field string `json:"field,omitempty"`
	// Old and New are the values as compact JSON, cut to maxDiffValue
	// characters; empty where there is none (an added or removed field).
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
}

// maxDiffValue bounds a value shown in a Change (characters).
const maxDiffValue = 200

// Diff lists the differences from the flow document old to new: the
// document's fields, then each applet (added, removed, or each field that
// changed), in id order. Documents need not be valid flows, only JSON
// objects; an empty old is the empty document.
func Diff(old, new []byte) ([]Change, error) {
	a, err := diffObject(old)
	if err != nil {
		return nil, fmt.Errorf("flows: diff: the old document: %w", err)
	}
	b, err := diffObject(new)
	if err != nil {
		return nil, fmt.Errorf("flows: diff: the new document: %w", err)
	}
	var out []Change
	for _, key := range unionKeys(a, b) {
		if key == "applets" || key == "layout" {
			continue
		}
		out = diffValue(out, "", key, a[key], b[key])
	}
	appletsA, appletsB := asObject(a["applets"]), asObject(b["applets"])
	layoutA, layoutB := asObject(a["layout"]), asObject(b["layout"])
	for _, id := range unionKeys(appletsA, appletsB) {
		x, inA := appletsA[id]
		y, inB := appletsB[id]
		switch {
		case !inA:
			out = append(out, Change{Kind: Added, Applet: id, New: shown(y)})
		case !inB:
			out = append(out, Change{Kind: Removed, Applet: id, Old: shown(x)})
		default:
			n := len(out)
			out = diffValue(out, id, "", x, y)
			if len(out) == n && !sameJSON(layoutA[id], layoutB[id]) {
				out = append(out, Change{Kind: Moved, Applet: id, Old: shown(layoutA[id]), New: shown(layoutB[id])})
			}
		}
	}
	return out, nil
}

// diffObject decodes a document for Diff, numbers kept exact.
func diffObject(doc []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not a JSON object")
	}
	return m, nil
}

// diffValue appends the changes from a to b at path (field name under
// the applet), descending into objects; arrays are compared whole.
func diffValue(out []Change, applet, path string, a, b any) []Change {
	if sameJSON(a, b) {
		return out
	}
	ma, aObj := a.(map[string]any)
	mb, bObj := b.(map[string]any)
	if aObj && bObj {
		for _, key := range unionKeys(ma, mb) {
			out = diffValue(out, applet, joinPath(path, key), ma[key], mb[key])
		}
		return out
	}
	return append(out, Change{Kind: Changed, Applet: applet, Field: path, Old: shown(a), New: shown(b)})
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func unionKeys(a, b map[string]any) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// sameJSON compares decoded JSON values by their encoding (maps encode
// with sorted keys).
func sameJSON(a, b any) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(x, y)
}

// shown is a value as compact JSON for a Change; "" for none.
func shown(v any) string {
	if v == nil {
		return ""
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	s := string(bytes.TrimSpace(buf.Bytes()))
	if utf8.RuneCountInString(s) > maxDiffValue {
		r := []rune(s)
		s = string(r[:maxDiffValue-1]) + "…"
	}
	return s
}
