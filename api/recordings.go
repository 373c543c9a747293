package api

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// recordingPath is the download route of a recording; a Recording's URL
// is this path on the public base URL.
const recordingPath = "/v1/Accounts/:sid/Recordings/:id"

// routesRecordings serves recording downloads at
// /v1/Accounts/:sid/Recordings/:id: with the account's credentials, or
// without them on a pre-signed URL (see presign).
func (s *Server) routesRecordings(e *echo.Echo) {
	e.GET(recordingPath, s.downloadRecording, s.presignedOrAuthenticated)
	e.HEAD(recordingPath, s.downloadRecording, s.presignedOrAuthenticated)
}

// presignedOrAuthenticated lets a request through on a valid pre-signed
// URL (the signature covers the whole path, account SID included, so a URL
// signed for one account's recording opens nothing else), and otherwise
// requires the account's credentials like every other account route. A
// pre-signed request spends no account's budget (whoever holds the URL may
// fetch it until it expires); an invalid signature counts as a failed
// authentication of the client's address.
func (s *Server) presignedOrAuthenticated(next echo.HandlerFunc) echo.HandlerFunc {
	auth := s.authenticate(next)
	return func(c echo.Context) error {
		r := c.Request()
		if s.presigned(r.URL.Path, c.QueryParams(), time.Now()) {
			return next(c)
		}
		if _, _, ok := r.BasicAuth(); !ok && c.QueryParam("Signature") != "" {
			if ok, wait := s.authFailures.take(clientKey(r, s.opts.TrustedProxies), s.opts.Now()); !ok {
				return tooManyRequests(c, wait, "too many failed authentications from your address")
			}
			return fail(http.StatusForbidden, CodeForbidden, "this pre-signed URL is invalid or has expired")
		}
		return auth(c)
	}
}

// downloadRecording streams a recording's file (ranges and HEAD through
// http.ServeContent). Only the file the recording row names is ever
// opened: the path's id selects a row of the path's account, never a file.
func (s *Server) downloadRecording(c echo.Context) error {
	ctx := c.Request().Context()
	sid := c.Param("sid")
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	rec, err := s.store.Recordings().Get(ctx, sid, id)
	if errors.Is(err, store.ErrNotFound) {
		return manageNotFound(CodeNotFound, "recording "+id)
	}
	if err != nil {
		return fmt.Errorf("download recording %s: %w", id, err)
	}
	f, info, err := openRecording(rec.Path)
	if err != nil {
		s.log.WarnContext(ctx, "api: recording file unavailable", "account", sid, "recording", id, "err", err)
		return fail(http.StatusNotFound, CodeNotFound, "the file of recording "+id+" is not available")
	}
	defer f.Close()
	ext, ctype := recordingType(rec.Format)
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, ctype)
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`inline; filename="%s.%s"`, safeFileName(rec.ID), ext))
	h.Set("Cache-Control", "private")
	http.ServeContent(c.Response(), c.Request(), "", info.ModTime(), f)
	return nil
}

// openRecording opens path, which must be a regular file, not a symbolic
// link, a folder or a device.
func openRecording(path string) (*os.File, fs.FileInfo, error) {
	if path == "" {
		return nil, nil, errors.New("recording has no file")
	}
	linfo, err := os.Lstat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("stat recording file: %w", err)
	}
	if !linfo.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("recording file %s is not a regular file (%s)", path, linfo.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open recording file: %w", err)
	}
	info, err := f.Stat()
	if err != nil || !os.SameFile(linfo, info) {
		_ = f.Close()
		return nil, nil, fmt.Errorf("recording file %s changed while being opened", path)
	}
	return f, info, nil
}

// recordingType returns a recording format's file extension and media
// type; WAV when the format is unknown or empty.
func recordingType(format string) (ext, contentType string) {
	switch strings.ToLower(format) {
	case "mp3", "mp3-hq":
		return "mp3", "audio/mpeg"
	case "ogg":
		return "ogg", "audio/ogg"
	}
	return "wav", "audio/wav"
}

var fileNameSafe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// safeFileName returns id if it can go into a Content-Disposition header
// as it is, otherwise "recording".
func safeFileName(id string) string {
	if fileNameSafe.MatchString(id) {
		return id
	}
	return "recording"
}
