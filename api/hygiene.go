package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// inputHygiene is the gate every request passes before authentication and
// the handlers: it refuses, with 400 in the surface's error format, a
// request whose path, query string, Basic-auth user or password, or body
// (form, multipart or JSON, percent-encoding and JSON escapes decoded)
// holds text no field of the API can take: invalid UTF-8, a NUL or
// another control character. Tab, CR and LF are accepted inside bodies
// only. PostgreSQL refuses such text (SQLite would store it), so without
// the gate it could only end as a 500 or as garbage in the database.
//
// The body is read once, under the MaxBody cap (limitBody runs first: a
// larger body is 413), and handed on to the handlers in full.
func (s *Server) inputHygiene(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if why := badText(r.URL.Path, false); why != "" {
			return badRequest("the request path " + why)
		}
		if err := checkQuery(r.URL.RawQuery); err != nil {
			return err
		}
		if user, pass, ok := r.BasicAuth(); ok {
			if why := badText(user, false); why != "" {
				return badRequest("the Basic-auth user name " + why)
			}
			if why := badText(pass, false); why != "" {
				return badRequest("the Basic-auth password " + why)
			}
		}
		if err := checkBody(r); err != nil {
			return err
		}
		return next(c)
	}
}

// badText says what is wrong with s ("" when nothing is): not UTF-8, or
// a control character (C0 or DEL; in a body, tab, CR, LF and DEL pass).
func badText(s string, body bool) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		switch {
		case body && (r == '\t' || r == '\n' || r == '\r' || r == 0x7f):
		case r < 0x20 || r == 0x7f:
			return fmt.Sprintf("contains a control character (U+%04X)", r)
		}
	}
	return ""
}

// paramName quotes a parameter name for an error message, shortened.
func paramName(name string) string {
	const limit = 64
	if len(name) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut] + "…"
	}
	return fmt.Sprintf("%q", name)
}

// checkPairs checks a query string or a form body: pairs separated by &
// (a ; stays inside its value, as Exotel's filters want), each name and
// value percent-decoded.
func checkPairs(raw, where string, body bool) error {
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return badRequest(fmt.Sprintf("malformed %s: bad percent-encoding in a parameter name", where))
		}
		if why := badText(key, body); why != "" {
			return badRequest(fmt.Sprintf("a %s parameter name %s", where, why))
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return badRequest(fmt.Sprintf("malformed %s: bad percent-encoding in parameter %s", where, paramName(key)))
		}
		if why := badText(val, body); why != "" {
			return badRequest(fmt.Sprintf("%s parameter %s %s", where, paramName(key), why))
		}
	}
	return nil
}

func checkQuery(raw string) error { return checkPairs(raw, "query string", false) }

// checkBody reads the body (through the MaxBody cap), checks it by its
// media type, and puts it back for the handlers. A body whose type the
// handlers refuse (they answer 415) is still checked as text.
func checkBody(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	raw, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(raw))
	if err != nil {
		return bodyErr(err)
	}
	if len(raw) == 0 {
		return nil
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil {
		mt = ""
	}
	switch {
	case mt == echo.MIMEApplicationForm:
		return checkPairs(string(raw), "form", true)
	case mt == echo.MIMEMultipartForm:
		return checkMultipart(raw, params["boundary"])
	case mt == echo.MIMEApplicationJSON || strings.HasSuffix(mt, "+json"):
		return checkJSON(raw)
	}
	if why := badText(string(raw), true); why != "" {
		return badRequest("the request body " + why)
	}
	return nil
}

// checkJSON checks a JSON body's bytes, then every string in it (object
// keys included) with its escapes decoded. A body that is not JSON is
// left to the handler, which answers 400 with the decoder's position.
func checkJSON(raw []byte) error {
	if why := badText(string(raw), true); why != "" {
		return badRequest("the JSON body " + why)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF, or malformed: the handler says where
		}
		if s, ok := tok.(string); ok {
			if why := badText(s, true); why != "" {
				return badRequest("a string of the JSON body " + why)
			}
		}
	}
}

// checkMultipart checks the names and values of a multipart/form-data
// body's fields (quoted-printable parts decoded, as the handlers see
// them), and the names of file parts, whose content no handler reads.
func checkMultipart(raw []byte, boundary string) error {
	if boundary == "" {
		return badRequest("malformed multipart body: no boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(raw), boundary)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return badRequest("malformed multipart body")
		}
		name := p.FormName()
		if why := badText(name, false); why != "" {
			return badRequest("a form field name " + why)
		}
		if why := badText(p.FileName(), false); why != "" {
			return badRequest("the file name of form field " + paramName(name) + " " + why)
		}
		if p.FileName() != "" {
			continue
		}
		val, err := io.ReadAll(p)
		if err != nil {
			return badRequest("malformed multipart body")
		}
		if why := badText(string(val), true); why != "" {
			return badRequest("form field " + paramName(name) + " " + why)
		}
	}
}
