package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*
var staticFS embed.FS

// pages are the templates rendered as whole pages; each defines
// "content" inside the layout. (The error page, which needs no server
// settings, is errorTemplate.)
var pages = []string{"login", "calls", "call", "live", "agents", "campaigns", "campaign", "flows", "flow", "flowdiff"}

// assetVersions is a short hash of each static file, put in its URL so
// browsers may cache it for good and still get a new one with a new
// binary.
var assetVersions = func() map[string]string {
	out := map[string]string{}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(fmt.Sprintf("console: static files: %v", err))
	}
	for _, e := range entries {
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			panic(fmt.Sprintf("console: static file %s: %v", e.Name(), err))
		}
		sum := sha256.Sum256(b)
		out[e.Name()] = hex.EncodeToString(sum[:6])
	}
	return out
}()

// asset is the URL of a static file.
func asset(name string) string {
	return Prefix + "/static/" + name + "?v=" + assetVersions[name]
}

// pageData is what the layout renders around a page's content.
type pageData struct {
	Title string
	// Nav names the navigation entry of the page ("" for none).
	Nav string
	// Account is the session's account ("" when signed out: no
	// navigation); CSRF the token of its forms.
	Account string
	CSRF    string
	Data    any
}

// templates holds the parsed pages.
type templates map[string]*template.Template

// parseTemplates parses each page with the layout, with funcs.
func parseTemplates(funcs template.FuncMap) (templates, error) {
	out := templates{}
	for _, name := range pages {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// baseFuncs are the template functions that need no server settings.
func baseFuncs() template.FuncMap {
	return template.FuncMap{
		"asset": asset,
		"dur":   duration,
		"dec":   func(n int) int { return n - 1 },
	}
}

// funcs are the template functions: baseFuncs and those reading the
// console's time zone.
func (cs *console) funcs() template.FuncMap {
	f := baseFuncs()
	f["when"] = cs.when
	f["whenp"] = func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return cs.when(*t)
	}
	return f
}

// when renders a time in the console's zone, naming the zone.
func (cs *console) when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(cs.d.TimeZone).Format("2006-01-02 15:04:05 MST")
}

// duration renders seconds as 1h 02m 03s, 2m 05s or 7s.
func duration(secs int) string {
	d := time.Duration(secs) * time.Second
	switch {
	case secs < 0:
		return "—"
	case d >= time.Hour:
		return fmt.Sprintf("%dh %02dm %02ds", int(d.Hours()), int(d.Minutes())%60, secs%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), secs%60)
	}
	return fmt.Sprintf("%ds", secs)
}

// page renders a page of the session's account.
func (cs *console) page(c echo.Context, name, title, nav string, data any) error {
	return cs.pageStatus(c, http.StatusOK, name, title, nav, data)
}

// pageStatus is page with another status than 200.
func (cs *console) pageStatus(c echo.Context, status int, name, title, nav string, data any) error {
	s := sessionFrom(c)
	return cs.renderStatus(c, status, name, pageData{Title: title, Nav: nav, Account: s.Account,
		CSRF: cs.keys.csrfToken(s), Data: data})
}

// renderStatus renders a page with status, through a buffer so a
// template error is a clean 500.
func (cs *console) renderStatus(c echo.Context, status int, name string, pd pageData) error {
	return writePage(c, cs.tmpl[name], status, pd)
}

func writePage(c echo.Context, t *template.Template, status int, pd pageData) error {
	if t == nil {
		return fmt.Errorf("console: no template for %q", pd.Title)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", pd); err != nil {
		return fmt.Errorf("console: render %s: %w", t.Name(), err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// errorTemplate renders error pages; it needs no server settings.
var errorTemplate = template.Must(template.New("error").Funcs(baseFuncs()).
	ParseFS(templateFS, "templates/layout.html", "templates/error.html"))

// errorView is the error page's data.
type errorView struct {
	Status  int
	Message string
	SignIn  bool
}

// WriteError answers a console request that failed with an HTML error
// page (404, 500, …) carrying the console's security headers. The server
// calls it for every error of a console path, including the router's.
func WriteError(c echo.Context, status int, msg string) error {
	setSecurityHeaders(c.Response().Header())
	title := http.StatusText(status)
	if title == "" {
		title = "Error"
	}
	if status >= 500 {
		msg = "Something went wrong on our side. Try again in a moment."
	}
	v := errorView{Status: status, Message: msg, SignIn: status == http.StatusUnauthorized || status == http.StatusForbidden}
	if c.Request().Method == http.MethodHead {
		return c.NoContent(status)
	}
	return writePage(c, errorTemplate, status, pageData{Title: title, Data: v})
}

// serveStatic serves an embedded static file; with the current version
// in its URL, browsers may keep it for good.
func serveStatic(c echo.Context) error {
	name := c.Param("name")
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "/") {
		return echo.NewHTTPError(http.StatusNotFound, "There is no such file.")
	}
	h := c.Response().Header()
	if v := c.QueryParam("v"); v != "" && v == assetVersions[name] {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	ctype := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
		".svg": "image/svg+xml"}[path.Ext(name)]
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	return c.Blob(http.StatusOK, ctype, b)
}
