package flows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// schemaBase holds, per applet type, a valid config that also turns on
// everything another field needs before it may be set: a url (for
// url_timeout, a connect's timeout and fallback_url), a number (for a
// transfer's ring_timeout and caller_id), a queue announcement (for
// announce_every) and each optional object. Every schema field can then
// be checked by changing that one value.
var schemaBase = map[Type]string{
	TypeGreeting: `{"prompt":{"text":"Welcome"},"url":"https://crm.example/greeting"}`,
	TypeIVR:      `{"prompt":{"text":"Press 1"}}`,
	TypeGather:   `{"prompt":{"text":"Your order number?"},"url":"https://crm.example/gather"}`,
	TypeConnect: `{"destinations":["+15550100001"],"url":"https://crm.example/connect",
		"sticky_agent":{},"queue":{"announcement":{"text":"Please hold"}},
		"start_call_playback":{"prompt":{"text":"Call from the main line"}}}`,
	TypeVoicemail:     `{}`,
	TypeTransfer:      `{"number":"+15550100001"}`,
	TypePassthru:      `{"url":"https://crm.example/hook"}`,
	TypeBusinessHours: `{"timezone":"UTC","windows":[{"days":["mon"],"open":"09:00","close":"17:00"}]}`,
	TypeSMS:           `{"body":"Missed call from {{.From}}","url":"https://crm.example/sms"}`,
	TypeEmail:         `{"to":["ops@example.com"],"subject":"Missed call","body":"From {{.From}}"}`,
	TypeHangup:        `{}`,
	TypeSwitch:        `{}`,
}

// conditionallyRequired lists the fields validation needs only in some
// configurations (unless a url is set; a flow or a number), which the
// schema therefore does not mark Required; their help says when.
var conditionallyRequired = map[Type][]string{
	TypeGreeting: {"prompt"},
	TypeGather:   {"prompt"},
	TypeConnect:  {"destinations"},
	TypeTransfer: {"number"},
	TypeSMS:      {"body"},
}

// schemaDynamicOutput is the dynamic output of the base documents: a key
// for an IVR, and a case a switch accepts whatever it compares.
const schemaDynamicOutput = "1"

// baseConfig returns a fresh copy of a type's base config.
func baseConfig(t *testing.T, typ Type) map[string]any {
	t.Helper()
	var cfg map[string]any
	if err := json.Unmarshal([]byte(schemaBase[typ]), &cfg); err != nil {
		t.Fatalf("base config of %s: %v", typ, err)
	}
	return cfg
}

// baseOutputs wires a schema's required outputs and, if it has dynamic
// ones, one of those to the document's hangup applet.
func baseOutputs(s AppletSchema) map[string]string {
	out := map[string]string{}
	for _, o := range s.Outputs {
		if o.Required {
			out[o.Name] = "end"
		}
	}
	if s.DynamicOutputs != "" {
		out[schemaDynamicOutput] = "end"
	}
	return out
}

// schemaErrors loads a document whose start applet "a" has the given type,
// config and outputs (all pointing at a hangup applet "end") and returns
// its errors.
func schemaErrors(t *testing.T, typ Type, cfg map[string]any, outputs map[string]string) Problems {
	t.Helper()
	doc := map[string]any{
		"start": "a",
		"applets": map[string]any{
			"a":   map[string]any{"type": typ, "config": cfg, "outputs": outputs},
			"end": map[string]any{"type": TypeHangup},
		},
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("marshal document: %v", err)
	}
	_, problems := Load(data)
	return problems.Errors()
}

// errorsOn returns the errors of applet "a" on field or inside it.
func errorsOn(ps Problems, field string) Problems {
	var out Problems
	for _, p := range ps {
		if p.Applet == "a" && (p.Field == field || strings.HasPrefix(p.Field, field+".") || strings.HasPrefix(p.Field, field+"[")) {
			out = append(out, p)
		}
	}
	return out
}

// setPath sets a dotted path in a config, creating objects on the way.
func setPath(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// deletePath removes a dotted path from a config, reporting whether it was
// there.
func deletePath(m map[string]any, path string) bool {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return false
		}
		m = next
	}
	last := parts[len(parts)-1]
	_, ok := m[last]
	delete(m, last)
	return ok
}

// walkFields calls fn for every field, depth first, with its dotted path.
func walkFields(fields []FieldSchema, prefix string, fn func(path string, f FieldSchema)) {
	for _, f := range fields {
		path := prefix + f.Name
		fn(path, f)
		walkFields(f.Fields, path+".", fn)
	}
}

// goFieldType finds the Go type of a config field by its dotted JSON path.
func goFieldType(t *testing.T, typ Type, path string) reflect.Type {
	t.Helper()
	ft := reflect.TypeOf(newConfig(typ))
	for _, name := range strings.Split(path, ".") {
		ft = deref(ft)
		next, ok := jsonFields(ft)[name]
		if !ok {
			t.Fatalf("%s: no JSON field %q in %s", typ, name, ft)
		}
		ft = next
	}
	return ft
}

func deref(t reflect.Type) reflect.Type {
	if t.Kind() == reflect.Pointer {
		return t.Elem()
	}
	return t
}

func TestSchemasCoverTypes(t *testing.T) {
	schemas := Schemas()
	var got []Type
	for _, s := range schemas {
		got = append(got, s.Type)
	}
	if !slices.Equal(got, Types()) {
		t.Fatalf("Schemas() types = %v, want Types() = %v", got, Types())
	}
	for i, typ := range Types() {
		s, ok := SchemaOf(typ)
		if !ok {
			t.Errorf("SchemaOf(%s): not found", typ)
			continue
		}
		if !reflect.DeepEqual(s, schemas[i]) {
			t.Errorf("SchemaOf(%s) differs from Schemas()[%d]", typ, i)
		}
	}
	if _, ok := SchemaOf("fax"); ok {
		t.Error(`SchemaOf("fax") found a schema`)
	}
	// Callers get their own copy.
	schemas[0].Fields[0].Label = "changed"
	if Schemas()[0].Fields[0].Label == "changed" {
		t.Error("Schemas() shares its fields between calls")
	}
}

func TestSchemaFieldsMatchConfigStructs(t *testing.T) {
	for _, typ := range Types() {
		s, ok := SchemaOf(typ)
		if !ok {
			t.Errorf("no schema for %s", typ)
			continue
		}
		compareSchemaFields(t, string(typ), reflect.TypeOf(newConfig(typ)).Elem(), s.Fields)
	}
	// The prompt and windows kinds carry no Fields: editors know their
	// shape, which FieldSchema's documentation gives. Pin it.
	for _, fixed := range []struct {
		typ  reflect.Type
		want []string
	}{
		{reflect.TypeFor[Prompt](), []string{"audio", "text", "voice"}},
		{reflect.TypeFor[Window](), []string{"close", "days", "open"}},
	} {
		got := sortedKeys(jsonFields(fixed.typ))
		if !slices.Equal(got, fixed.want) {
			t.Errorf("%s has JSON fields %v; the schema's kind describes %v", fixed.typ, got, fixed.want)
		}
	}
}

// compareSchemaFields checks that fields describe exactly the JSON fields
// of the struct st, with kinds that fit their Go types, recursing into
// objects.
func compareSchemaFields(t *testing.T, where string, st reflect.Type, fields []FieldSchema) {
	t.Helper()
	goFields := jsonFields(st)
	seen := map[string]bool{}
	for _, f := range fields {
		path := where + "." + f.Name
		if seen[f.Name] {
			t.Errorf("%s: described twice", path)
		}
		seen[f.Name] = true
		ft, ok := goFields[f.Name]
		if !ok {
			t.Errorf("%s: in the schema but not a JSON field of %s", path, st)
			continue
		}
		if err := kindFits(f.Kind, ft); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		if f.Kind == kindObject {
			compareSchemaFields(t, path, deref(ft), f.Fields)
		}
	}
	for _, name := range sortedKeys(goFields) {
		if !seen[name] {
			t.Errorf("%s.%s: a JSON field of %s the schema does not describe", where, name, st)
		}
	}
}

// kindFits reports whether a field kind describes a Go type.
func kindFits(kind string, ft reflect.Type) error {
	base := deref(ft)
	var ok bool
	switch kind {
	case kindText, kindMultiline, kindURL, kindSelect:
		ok = base.Kind() == reflect.String
	case kindNumber:
		ok = base.Kind() == reflect.Int
	case kindBool:
		ok = base.Kind() == reflect.Bool
	case kindStrings, kindDates:
		ok = ft == reflect.TypeFor[[]string]()
	case kindWindows:
		ok = ft == reflect.TypeFor[[]Window]()
	case kindPrompt:
		ok = base == reflect.TypeFor[Prompt]()
	case kindObject:
		ok = base.Kind() == reflect.Struct && base != reflect.TypeFor[Prompt]()
	default:
		return fmt.Errorf("unknown kind %q", kind)
	}
	if !ok {
		return fmt.Errorf("kind %q does not describe Go type %s", kind, ft)
	}
	return nil
}

func TestSchemaBaseDocumentsAreValid(t *testing.T) {
	for _, s := range Schemas() {
		if errs := schemaErrors(t, s.Type, baseConfig(t, s.Type), baseOutputs(s)); len(errs) != 0 {
			t.Errorf("%s: base document: %v", s.Type, errs)
		}
	}
}

func TestSchemaNumberBounds(t *testing.T) {
	// No bound depends on another field's value, so no field is skipped:
	// what a number needs before it may be set at all (a url, a number to
	// transfer to, a queue announcement) is in schemaBase.
	for _, s := range Schemas() {
		walkFields(s.Fields, "", func(path string, f FieldSchema) {
			if f.Kind != kindNumber {
				return
			}
			name := string(s.Type) + "." + path
			if f.Min == nil || f.Max == nil {
				t.Errorf("%s: a number needs Min and Max", name)
				return
			}
			field := "config." + path
			check := func(v int, wantErr bool) {
				t.Helper()
				cfg := baseConfig(t, s.Type)
				setPath(cfg, path, v)
				errs := schemaErrors(t, s.Type, cfg, baseOutputs(s))
				switch {
				case wantErr && len(errorsOn(errs, field)) == 0:
					t.Errorf("%s = %d (range %d..%d): no error on %s; errors: %v", name, v, *f.Min, *f.Max, field, errs)
				case !wantErr && len(errs) != 0:
					t.Errorf("%s = %d (range %d..%d): %v", name, v, *f.Min, *f.Max, errs)
				}
			}
			check(*f.Min, false)
			check(*f.Max, false)
			below := *f.Min - 1
			if below == 0 && goFieldType(t, s.Type, path).Kind() == reflect.Int {
				// A plain int's 0 is the field left out, meaning the
				// default: valid. The first value below the range is -1.
				check(0, false)
				below = -1
			}
			check(below, true)
			check(*f.Max+1, true)
		})
	}
}

func TestSchemaSelectOptions(t *testing.T) {
	for _, s := range Schemas() {
		walkFields(s.Fields, "", func(path string, f FieldSchema) {
			if f.Kind != kindSelect {
				return
			}
			name := string(s.Type) + "." + path
			for _, opt := range f.Options {
				cfg := baseConfig(t, s.Type)
				setPath(cfg, path, opt)
				if errs := schemaErrors(t, s.Type, cfg, baseOutputs(s)); len(errs) != 0 {
					t.Errorf("%s = %q: %v", name, opt, errs)
				}
			}
			cfg := baseConfig(t, s.Type)
			setPath(cfg, path, "bogus")
			if errs := schemaErrors(t, s.Type, cfg, baseOutputs(s)); len(errorsOn(errs, "config."+path)) == 0 {
				t.Errorf("%s = \"bogus\": no error on the field; errors: %v", name, errs)
			}
		})
	}
}

func TestSchemaRequiredFields(t *testing.T) {
	for _, s := range Schemas() {
		// Each required field is in the base config, and validation
		// fails without it.
		walkFields(s.Fields, "", func(path string, f FieldSchema) {
			if !f.Required {
				return
			}
			cfg := baseConfig(t, s.Type)
			if !deletePath(cfg, path) {
				t.Errorf("%s.%s: required, but not in schemaBase", s.Type, path)
				return
			}
			if errs := schemaErrors(t, s.Type, cfg, baseOutputs(s)); len(errorsOn(errs, "config."+path)) == 0 {
				t.Errorf("%s.%s: required, but a config without it has no error on it; errors: %v", s.Type, path, errs)
			}
		})

		// A config of only the required fields (and those needed for
		// want of a url or a flow) is valid: validation needs nothing the
		// schema does not say is needed.
		keep := map[string]bool{}
		for _, f := range s.Fields {
			if f.Required {
				keep[f.Name] = true
			}
		}
		for _, name := range conditionallyRequired[s.Type] {
			keep[name] = true
		}
		cfg := baseConfig(t, s.Type)
		for name := range cfg {
			if !keep[name] {
				delete(cfg, name)
			}
		}
		if errs := schemaErrors(t, s.Type, cfg, baseOutputs(s)); len(errs) != 0 {
			t.Errorf("%s: config of only its required fields %v: %v", s.Type, cfg, errs)
		}
		// Without a url (or a flow), the conditional fields are needed.
		for _, name := range conditionallyRequired[s.Type] {
			cfg := baseConfig(t, s.Type)
			for n := range cfg {
				if !keep[n] || n == name {
					delete(cfg, n)
				}
			}
			if errs := schemaErrors(t, s.Type, cfg, baseOutputs(s)); len(errs) == 0 {
				t.Errorf("%s.%s: listed as conditionally required, but a config without it is valid", s.Type, name)
			}
		}
	}
}

func TestSchemaOutputs(t *testing.T) {
	for _, s := range Schemas() {
		// The fixed outputs are exactly those validation allows (for a
		// transfer, one to a number).
		a := &Applet{Type: s.Type, Config: newConfig(s.Type)}
		if s.Type == TypeTransfer {
			a.Config = &Transfer{Number: "+15550100001"}
		}
		allowed, keys := appletOutputs(a)
		var names []string
		for _, o := range s.Outputs {
			names = append(names, o.Name)
		}
		if !slices.Equal(sorted(names), sorted(allowed)) {
			t.Errorf("%s: schema outputs %v, validation allows %v", s.Type, names, allowed)
		}
		wantDynamic := ""
		switch {
		case keys:
			wantDynamic = dynamicKeys
		case s.Type == TypeSwitch:
			wantDynamic = dynamicCases
		}
		if s.DynamicOutputs != wantDynamic {
			t.Errorf("%s: dynamic outputs %q, want %q", s.Type, s.DynamicOutputs, wantDynamic)
		}

		// Each output is accepted; a required one cannot be left out.
		for _, o := range s.Outputs {
			outputs := baseOutputs(s)
			if o.Required {
				delete(outputs, o.Name)
				if errs := schemaErrors(t, s.Type, baseConfig(t, s.Type), outputs); len(errorsOn(errs, "outputs."+o.Name)) == 0 {
					t.Errorf("%s: output %s is required, but leaving it out gives no error on it; errors: %v", s.Type, o.Name, errs)
				}
				continue
			}
			outputs[o.Name] = "end"
			if errs := schemaErrors(t, s.Type, baseConfig(t, s.Type), outputs); len(errs) != 0 {
				t.Errorf("%s: output %s: %v", s.Type, o.Name, errs)
			}
		}

		// Dynamic outputs: every key; cases of each kind a switch
		// compares (the base document's "1" fits them all).
		switch s.DynamicOutputs {
		case dynamicKeys:
			for _, k := range strings.Split("0 1 2 3 4 5 6 7 8 9 * #", " ") {
				outputs := baseOutputs(s)
				outputs[k] = "end"
				if errs := schemaErrors(t, s.Type, baseConfig(t, s.Type), outputs); len(errs) != 0 {
					t.Errorf("%s: key output %q: %v", s.Type, k, errs)
				}
			}
		case dynamicCases:
			outputs := baseOutputs(s)
			outputs["gold customer"] = "end"
			if errs := schemaErrors(t, s.Type, baseConfig(t, s.Type), outputs); len(errs) != 0 {
				t.Errorf("%s: case output: %v", s.Type, errs)
			}
		}

		// An unknown output is rejected. A switch has none: any other
		// name is a case value.
		if s.DynamicOutputs == dynamicCases {
			continue
		}
		outputs := baseOutputs(s)
		outputs["bogus_output"] = "end"
		if errs := schemaErrors(t, s.Type, baseConfig(t, s.Type), outputs); len(errorsOn(errs, "outputs.bogus_output")) == 0 {
			t.Errorf("%s: unknown output accepted; errors: %v", s.Type, errs)
		}
	}

	// A transfer to a flow has no outputs, as its description says.
	s, _ := SchemaOf(TypeTransfer)
	for _, o := range s.Outputs {
		errs := schemaErrors(t, TypeTransfer, map[string]any{"flow": "sales"}, map[string]string{o.Name: "end"})
		if len(errorsOn(errs, "outputs."+o.Name)) == 0 {
			t.Errorf("transfer to a flow accepts output %s", o.Name)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// TestSchemaMetadata checks what editors rely on beyond the Go types:
// texts are there, kinds carry only their own attributes, and defaults
// are values the field can hold.
func TestSchemaMetadata(t *testing.T) {
	for _, s := range Schemas() {
		if s.Label == "" || !strings.HasSuffix(s.Description, ".") {
			t.Errorf("%s: needs a label and a one-sentence description", s.Type)
		}
		if s.Outputs == nil || s.Fields == nil {
			t.Errorf("%s: outputs and fields must be lists, even empty ones", s.Type)
		}
		seen := map[string]bool{}
		for _, o := range s.Outputs {
			if seen[o.Name] {
				t.Errorf("%s: output %s listed twice", s.Type, o.Name)
			}
			seen[o.Name] = true
			if o.Label == "" || !strings.HasSuffix(o.Description, ".") {
				t.Errorf("%s: output %s needs a label and a description", s.Type, o.Name)
			}
		}
		walkFields(s.Fields, "", func(path string, f FieldSchema) {
			name := string(s.Type) + "." + path
			if f.Label == "" || !(strings.HasSuffix(f.Help, ".") || strings.HasSuffix(f.Help, ".\"")) {
				t.Errorf("%s: needs a label and a help sentence", name)
			}
			if (f.Kind == kindSelect) != (len(f.Options) > 0) {
				t.Errorf("%s: options belong to (and are needed by) selects", name)
			}
			if f.Kind != kindNumber && (f.Min != nil || f.Max != nil) {
				t.Errorf("%s: Min and Max belong to numbers", name)
			}
			if (f.Kind == kindObject) != (len(f.Fields) > 0) {
				t.Errorf("%s: fields belong to (and are needed by) objects", name)
			}
			if f.Required && (f.Default != nil || f.Advanced) {
				t.Errorf("%s: a required field has no default and is not advanced", name)
			}
			if f.Default == nil {
				return
			}
			switch d := f.Default.(type) {
			case int:
				if f.Kind != kindNumber || f.Min == nil || f.Max == nil || d < *f.Min || d > *f.Max {
					t.Errorf("%s: default %d is not a number in its range", name, d)
				}
			case bool:
				if f.Kind != kindBool {
					t.Errorf("%s: bool default on a %s", name, f.Kind)
				}
			case string:
				switch {
				case f.Kind == kindSelect && !slices.Contains(f.Options, d):
					t.Errorf("%s: default %q is not an option", name, d)
				case f.Kind != kindSelect && f.Kind != kindText && f.Kind != kindMultiline && f.Kind != kindURL:
					t.Errorf("%s: string default on a %s", name, f.Kind)
				}
			default:
				t.Errorf("%s: default %v (%T) is not a number, string or bool", name, d, d)
			}
		})
	}
}

func TestSchemasJSON(t *testing.T) {
	data, err := json.Marshal(Schemas())
	if err != nil {
		t.Fatalf("marshal schemas: %v", err)
	}
	t.Logf("SchemasJSON: %d bytes", len(data))
	got := SchemasJSON()
	if !bytes.Equal(got, data) {
		t.Error("SchemasJSON differs from json.Marshal(Schemas())")
	}
	got[0] = 'x'
	if SchemasJSON()[0] != '[' {
		t.Error("SchemasJSON shares its bytes with callers")
	}

	// It reads back into the same schemas.
	var back []AppletSchema
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("unmarshal schemas: %v", err)
	}
	again, err := json.Marshal(back)
	if err != nil {
		t.Fatalf("marshal again: %v", err)
	}
	if !bytes.Equal(again, data) {
		t.Errorf("round trip changed the JSON:\n%s\n%s", data, again)
	}

	// Lists are lists, never null, and keys are snake_case.
	var raw []map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	for _, s := range raw {
		for _, key := range []string{"outputs", "fields"} {
			if _, ok := s[key].([]any); !ok {
				t.Errorf("%v: %s is %v, want a list", s["type"], key, s[key])
			}
		}
	}
	for _, key := range []string{`"dynamic_outputs"`, `"help"`, `"kind"`, `"min"`, `"max"`, `"default"`, `"options"`, `"advanced"`, `"required"`} {
		if !bytes.Contains(data, []byte(key)) {
			t.Errorf("JSON has no %s key", key)
		}
	}
	if bytes.Contains(data, []byte(`"Name"`)) || bytes.Contains(data, []byte(`"Fields"`)) {
		t.Error("JSON has Go field names")
	}
}
