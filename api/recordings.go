package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/recstore"
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
// http.ServeContent): the archived object once the recording is
// archived, the WAV the media node wrote until then. Only the file or
// object the recording row names is ever opened: the path's id selects a
// row of the path's account, never a file.
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
	obj, err := s.openRecording(ctx, rec)
	if err != nil && rec.StorageKey == "" && errors.Is(err, recstore.ErrNotFound) {
		// The archiver may have moved the file since the row was read.
		if again, gerr := s.store.Recordings().Get(ctx, sid, id); gerr == nil && again.StorageKey != "" {
			rec = again
			obj, err = s.openRecording(ctx, rec)
		}
	}
	if err != nil {
		s.log.WarnContext(ctx, "api: recording file unavailable", "account", sid, "recording", id, "err", err)
		return fail(http.StatusNotFound, CodeNotFound, "the file of recording "+id+" is not available")
	}
	defer obj.Close()
	ext, ctype := recordingType(rec.Format)
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, ctype)
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`inline; filename="%s.%s"`, safeFileName(rec.ID), ext))
	h.Set("Cache-Control", "private")
	http.ServeContent(c.Response(), c.Request(), "", obj.Info().ModTime, obj)
	return nil
}

// openRecording opens a recording's file: the archived object in the
// blob store, or before it is archived the file the media node wrote
// (which must be a regular file, not a symbolic link, a folder or a
// device).
func (s *Server) openRecording(ctx context.Context, rec *store.Recording) (recstore.Object, error) {
	if rec.StorageKey != "" {
		st := s.opts.Recordings
		if st == nil {
			return nil, fmt.Errorf("recording %s is in %s, and no recording store is configured", rec.ID, rec.Storage)
		}
		if rec.Storage != "" && rec.Storage != st.Location() {
			s.log.WarnContext(ctx, "api: recording archived in another store than the configured one",
				"recording", rec.ID, "archived_in", rec.Storage, "configured", st.Location())
		}
		return st.Open(ctx, rec.StorageKey)
	}
	if rec.Path == "" {
		return nil, errors.New("recording has no file")
	}
	f, info, err := recstore.OpenFile(rec.Path)
	if err != nil {
		return nil, err
	}
	return localFile{f, recstore.Info{Size: info.Size(), ModTime: info.ModTime()}}, nil
}

// localFile is a file the media node wrote, not yet archived.
type localFile struct {
	*os.File
	info recstore.Info
}

func (f localFile) Info() recstore.Info { return f.info }

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
