package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// Live calls.
const (
	// liveLimit caps the calls the live view shows.
	liveLimit = 200
	// livePoll is how often a stream reads the store: at most once a
	// second per open stream.
	livePoll = time.Second
	// liveStreamMax bounds a stream's life, and liveStreamMargin ends it
	// that long before its request's deadline: the browser's EventSource
	// then opens a new one (after liveRetry), so no stream outlives the
	// server's request timeout or holds up its shutdown.
	liveStreamMax    = 5 * time.Minute
	liveStreamMargin = time.Second
	liveRetry        = time.Second
	// liveKeepAlive is the longest a stream stays silent.
	liveKeepAlive = 15 * time.Second
)

// liveStatuses are the statuses of calls in progress.
var liveStatuses = []store.Status{store.Queued, store.Ringing, store.InProgress}

// liveCall is a call in progress as the live view shows it (and as the
// stream sends it, in JSON).
type liveCall struct {
	SID       string `json:"sid"`
	URL       string `json:"url"`
	Direction string `json:"direction"`
	From      string `json:"from"`
	To        string `json:"to"`
	Phone     string `json:"phone"`
	Status    string `json:"status"`
	Started   string `json:"started"`
}

// liveCalls reads the account's calls in progress, newest first.
func (cs *console) liveCalls(ctx context.Context, account string) ([]liveCall, error) {
	page, err := cs.d.Store.Calls().List(ctx, account, store.CallFilter{Statuses: liveStatuses, SortDesc: true, Limit: liveLimit})
	if err != nil {
		return nil, fmt.Errorf("console: live calls: %w", err)
	}
	out := make([]liveCall, len(page.Calls))
	for i, c := range page.Calls {
		out[i] = liveCall{SID: c.SID, URL: Prefix + "/calls/" + c.SID, Direction: c.Direction, From: c.From,
			To: c.To, Phone: c.PhoneNumber, Status: string(c.Status), Started: cs.when(c.StartTime)}
	}
	return out, nil
}

// livePage shows the calls in progress; its script keeps the table
// current from the stream.
func (cs *console) livePage(c echo.Context) error {
	calls, err := cs.liveCalls(c.Request().Context(), sessionFrom(c).Account)
	if err != nil {
		return err
	}
	return cs.page(c, "live", "Live calls", "live", calls)
}

// liveEvents is the live view's Server-Sent Events stream: an event
// "calls" with the calls in progress (JSON) whenever they change, read
// from the store once a second. It ends when the client goes, when the
// session's key is revoked (event "signedout"), and shortly before the
// request's deadline (the browser reconnects).
func (cs *console) liveEvents(c echo.Context) error {
	s := sessionFrom(c)
	ctx := c.Request().Context()
	life := liveStreamMax
	if dl, ok := ctx.Deadline(); ok {
		life = min(life, max(time.Until(dl)-liveStreamMargin, livePoll))
	}
	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	st := &sseWriter{w: w, rc: http.NewResponseController(w)}
	if err := st.send(fmt.Sprintf("retry: %d\n\n", liveRetry.Milliseconds())); err != nil {
		return nil
	}
	tick := time.NewTicker(livePoll)
	defer tick.Stop()
	stop := time.NewTimer(life)
	defer stop.Stop()
	var last []byte
	quiet := time.Now()
	for {
		why, err := cs.livePass(ctx, s, st, &last, &quiet)
		if err != nil || why != "" {
			switch {
			case ctx.Err() != nil:
				why = "client gone"
			case why == "":
				why = "error"
			}
			cs.logStreamEnd(ctx, s, why, err)
			return nil
		}
		select {
		case <-ctx.Done():
			cs.logStreamEnd(ctx, s, "client gone", nil)
			return nil
		case <-stop.C:
			cs.logStreamEnd(ctx, s, "stream lifetime reached", nil)
			return nil
		case <-tick.C:
		}
	}
}

// livePass is one read of the store for a stream: it checks the
// session's key, reads the live calls and sends them if they changed
// (or a keep-alive comment after a long silence). A non-empty reason
// ends the stream.
func (cs *console) livePass(ctx context.Context, s session, st *sseWriter, last *[]byte, quiet *time.Time) (string, error) {
	if err := cs.stillValid(ctx, s); errors.Is(err, errBadSession) {
		_ = st.send("event: signedout\ndata: {}\n\n")
		return "session ended", nil
	} else if err != nil {
		return "", err
	}
	calls, err := cs.liveCalls(ctx, s.Account)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(calls)
	if err != nil {
		return "", fmt.Errorf("console: live calls: %w", err)
	}
	switch {
	case !bytes.Equal(payload, *last):
		*last = payload
		err = st.send("event: calls\ndata: " + string(payload) + "\n\n")
	case time.Since(*quiet) >= liveKeepAlive:
		err = st.send(": keep-alive\n\n")
	default:
		return "", nil
	}
	*quiet = time.Now()
	if err != nil {
		return "client gone", nil
	}
	return "", nil
}

func (cs *console) logStreamEnd(ctx context.Context, s session, why string, err error) {
	if err != nil && ctx.Err() == nil {
		cs.log.WarnContext(ctx, "console: live stream failed", "account", s.Account, "err", err)
	}
	cs.log.DebugContext(ctx, "console: live stream ended", "account", s.Account, "reason", why)
}

// sseWriter writes events and flushes each at once, pushing the write
// deadline out as it goes (a stream outlives the server's write timeout
// for ordinary answers).
type sseWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (s *sseWriter) send(event string) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(liveKeepAlive * 2)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("console: stream deadline: %w", err)
	}
	if _, err := io.WriteString(s.w, event); err != nil {
		return fmt.Errorf("console: stream write: %w", err)
	}
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("console: stream flush: %w", err)
	}
	return nil
}
