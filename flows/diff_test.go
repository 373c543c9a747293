package flows

import (
	"reflect"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	v1 := `{"name": "Support", "start": "hello", "applets": {
		"hello": {"type": "greeting", "config": {"prompt": {"text": "Hi"}}, "outputs": {"next": "menu"}},
		"menu": {"type": "ivr", "config": {"prompt": {"text": "Press 1"}, "timeout": 5}, "outputs": {"1": "bye"}},
		"bye": {"type": "hangup"}},
		"layout": {"hello": {"x": 0, "y": 0}, "menu": {"x": 0, "y": 120}, "bye": {"x": 0, "y": 240}}}`
	v2 := `{"name": "Support line", "start": "hello", "applets": {
		"hello": {"type": "greeting", "config": {"prompt": {"text": "Hi"}}, "outputs": {"next": "menu"}},
		"menu": {"type": "ivr", "config": {"prompt": {"text": "Press 1 or 2"}, "timeout": 5}, "outputs": {"1": "bye", "2": "vm"}},
		"vm": {"type": "voicemail"}},
		"layout": {"hello": {"x": 40, "y": 0}, "menu": {"x": 0, "y": 120}, "vm": {"x": 200, "y": 240}}}`
	got, err := Diff([]byte(v1), []byte(v2))
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{Kind: Changed, Field: "name", Old: `"Support"`, New: `"Support line"`},
		{Kind: Removed, Applet: "bye", Old: `{"type":"hangup"}`},
		{Kind: Moved, Applet: "hello", Old: `{"x":0,"y":0}`, New: `{"x":40,"y":0}`},
		{Kind: Changed, Applet: "menu", Field: "config.prompt.text", Old: `"Press 1"`, New: `"Press 1 or 2"`},
		{Kind: Changed, Applet: "menu", Field: "outputs.2", New: `"vm"`},
		{Kind: Added, Applet: "vm", New: `{"type":"voicemail"}`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff:\n got %+v\nwant %+v", got, want)
	}

	// Nothing changed: no change; from nothing: every applet added.
	if same, err := Diff([]byte(v2), []byte(v2)); err != nil || len(same) != 0 {
		t.Errorf("Diff of a document with itself: %+v, %v", same, err)
	}
	fresh, err := Diff(nil, []byte(v1))
	if err != nil {
		t.Fatal(err)
	}
	added := 0
	for _, c := range fresh {
		if c.Kind == Added {
			added++
		}
	}
	if added != 3 {
		t.Errorf("Diff from nothing: %d applets added, want 3 (%+v)", added, fresh)
	}

	// Long values are cut; documents that are not objects are refused.
	long, err := Diff([]byte(`{"description": "a"}`), []byte(`{"description": "`+strings.Repeat("x", 500)+`"}`))
	if err != nil || len(long) != 1 || len([]rune(long[0].New)) != maxDiffValue {
		t.Errorf("a long value: %+v, %v", long, err)
	}
	if _, err := Diff([]byte(`[1]`), []byte(v1)); err == nil {
		t.Error("Diff accepted an array as a document")
	}
}

func TestLayout(t *testing.T) {
	doc := `{"start": "bye", "applets": {"bye": {"type": "hangup"}},
		"layout": {"bye": {"x": 10, "y": -20}, "gone": {"x": 1, "y": 1}}}`
	f, problems := Load([]byte(doc))
	if problems.HasErrors() {
		t.Fatalf("a layout: %v", problems)
	}
	if f.Layout["bye"] != (Position{X: 10, Y: -20}) {
		t.Errorf("layout: %+v", f.Layout)
	}
	if w := problems.Warnings(); len(w) != 1 || w[0].Field != "layout.gone" {
		t.Errorf("warnings: %v, want one about layout.gone", w)
	}
	_, problems = Load([]byte(`{"start": "bye", "applets": {"bye": {"type": "hangup"}}, "layout": {"bye": {"x": 100001, "y": 0}}}`))
	if errs := problems.Errors(); len(errs) != 1 || errs[0].Field != "layout.bye" {
		t.Errorf("a position off the canvas: %v", problems)
	}
	_, problems = Load([]byte(`{"start": "bye", "applets": {"bye": {"type": "hangup"}}, "layout": {"bye": {"x": "left"}}}`))
	if !problems.HasErrors() {
		t.Error("a position that is not numbers was accepted")
	}
}
