package callback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/url"
	"strconv"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// seqField is the field added at delivery time: the callback's per-call
// sequence number, which the store assigns after the builder has run.
const seqField = "SequenceNumber"

// rawField is one field of a stored payload, its value still JSON.
type rawField struct {
	name  string
	value json.RawMessage
}

// decodePayload reads a stored payload object keeping its key order.
func decodePayload(s string) ([]rawField, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var out []rawField
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("payload key %v is not a string", tok)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("payload field %s: %w", name, err)
		}
		out = append(out, rawField{name, v})
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("payload has data after the object")
	}
	return out, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("payload: want %q, got %v", want, tok)
	}
	return nil
}

// encodeBody builds the request body of a callback and its Content-Type:
// the stored fields in order, then SequenceNumber.
func encodeBody(cb *store.Callback) (body []byte, contentType string, err error) {
	fields, err := decodePayload(cb.Payload)
	if err != nil {
		return nil, "", fmt.Errorf("callback %s: %w", cb.ID, err)
	}
	fields = append(fields, rawField{seqField, json.RawMessage(strconv.Itoa(cb.Seq))})
	switch cb.ContentType {
	case store.ContentJSON:
		return encodeJSON(fields), store.ContentJSON, nil
	case store.ContentForm:
		return encodeForm(fields)
	}
	return encodeMultipart(fields)
}

// encodeForm writes the fields as application/x-www-form-urlencoded (SMS
// status callbacks), flattened as encodeMultipart does.
func encodeForm(fields []rawField) ([]byte, string, error) {
	form := url.Values{}
	var order []string
	for _, f := range fields {
		err := flatten(f.name, f.value, func(name, value string) error {
			if _, ok := form[name]; !ok {
				order = append(order, name)
			}
			form.Add(name, value)
			return nil
		})
		if err != nil {
			return nil, "", fmt.Errorf("field %s: %w", f.name, err)
		}
	}
	var buf bytes.Buffer
	for _, name := range order {
		for _, v := range form[name] {
			if buf.Len() > 0 {
				buf.WriteByte('&')
			}
			buf.WriteString(url.QueryEscape(name) + "=" + url.QueryEscape(v))
		}
	}
	return buf.Bytes(), store.ContentForm, nil
}

// encodeJSON writes the fields as one object. The values are valid JSON
// already (they were decoded from the stored payload).
func encodeJSON(fields []rawField) []byte {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(f.name) // a string always marshals
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(f.value)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// encodeMultipart writes the fields as multipart/form-data, flattening
// arrays and objects PHP-style: Legs[0][OnCallDuration], Legs[0][Status], …
func encodeMultipart(fields []rawField) ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := flatten(f.name, f.value, w.WriteField); err != nil {
			return nil, "", fmt.Errorf("field %s: %w", f.name, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// flatten emits the form fields of one JSON value named name: scalars as
// they are (strings unquoted, null as ""), arrays and objects element by
// element with [index] or [key] appended, in order.
func flatten(name string, v json.RawMessage, emit func(name, value string) error) error {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		return flattenNested(name, t, dec, emit)
	case string:
		return emit(name, t)
	case json.Number:
		return emit(name, t.String())
	case bool:
		return emit(name, strconv.FormatBool(t))
	case nil:
		return emit(name, "")
	}
	return fmt.Errorf("unexpected JSON token %v", tok)
}

// flattenNested flattens the array or object whose opening delim has just
// been read from dec.
func flattenNested(name string, open json.Delim, dec *json.Decoder, emit func(name, value string) error) error {
	for i := 0; dec.More(); i++ {
		key := strconv.Itoa(i)
		if open == '{' {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			s, ok := tok.(string)
			if !ok {
				return fmt.Errorf("object key %v is not a string", tok)
			}
			key = s
		}
		var elem json.RawMessage
		if err := dec.Decode(&elem); err != nil {
			return err
		}
		if err := flatten(name+"["+key+"]", elem, emit); err != nil {
			return err
		}
	}
	_, err := dec.Token() // the closing delim
	return err
}
