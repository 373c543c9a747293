package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// receiver takes the status callbacks of an API run: the terminal one of
// each call, by CallSid.
type receiver struct {
	l   net.Listener
	srv *http.Server
	log *slog.Logger

	mu sync.Mutex
	// expected are the CallSids the API answered with; a callback may
	// come before its call's answer, so ends holds every CallSid's.
	expected  map[string]bool
	ends      map[string]terminal // CallSid -> its first terminal callback
	dupes     int                 // terminal callbacks after a call's first
	malformed int
	changed   chan struct{} // a value when a callback came since the last look
}

// terminal is one call's terminal callback.
type terminal struct {
	status string
	at     time.Time
}

// callbackBody is the part of a callback the tool reads.
type callbackBody struct {
	CallSid   string `json:"CallSid"`
	EventType string `json:"EventType"`
	Status    string `json:"Status"`
}

func listenCallbacks(addr string, log *slog.Logger) (*receiver, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: callback listener: %w", err)
	}
	r := &receiver{l: l, log: log, expected: map[string]bool{}, ends: map[string]terminal{},
		changed: make(chan struct{}, 1)}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := r.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("loadgen: callback listener stopped", "err", err)
		}
	}()
	return r, nil
}

func (r *receiver) addr() string { return r.l.Addr().String() }

func (r *receiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
}

// serveHTTP reads a callback (JSON as the run asks for, or a form) and
// answers 200 at once, as a prompt receiver does.
func (r *receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	if req.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	cb, err := readCallback(req)
	if err != nil {
		r.mu.Lock()
		r.malformed++
		r.mu.Unlock()
		r.log.Warn("loadgen: unreadable callback", "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	if cb.EventType != "" && cb.EventType != "terminal" {
		return
	}
	r.mu.Lock()
	if _, seen := r.ends[cb.CallSid]; seen {
		r.dupes++
	} else {
		r.ends[cb.CallSid] = terminal{status: cb.Status, at: at}
	}
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func readCallback(req *http.Request) (callbackBody, error) {
	var cb callbackBody
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		return cb, fmt.Errorf("reading the body: %w", err)
	}
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if mt == "application/json" {
		if err := json.Unmarshal(body, &cb); err != nil {
			return cb, fmt.Errorf("JSON body: %w", err)
		}
	} else {
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		if err := req.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			return cb, fmt.Errorf("form body: %w", err)
		}
		cb = callbackBody{CallSid: req.FormValue("CallSid"), EventType: req.FormValue("EventType"), Status: req.FormValue("Status")}
	}
	if cb.CallSid == "" {
		return cb, errors.New("no CallSid")
	}
	return cb, nil
}

// expect notes a CallSid the API answered with.
func (r *receiver) expect(sid string) {
	r.mu.Lock()
	r.expected[sid] = true
	r.mu.Unlock()
}

// ended is how many of the expected calls have their terminal callback.
func (r *receiver) ended() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for sid := range r.expected {
		if _, ok := r.ends[sid]; ok {
			n++
		}
	}
	return n
}

// waitFor waits until every one of sids has its terminal callback, at
// most wait.
func (r *receiver) waitFor(ctx context.Context, sids []string, wait time.Duration) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		missing := 0
		for _, sid := range sids {
			if _, ok := r.ends[sid]; !ok {
				missing++
			}
		}
		r.mu.Unlock()
		if missing == 0 {
			return
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// snapshot copies what came: the terminal callbacks by CallSid, the
// duplicates, and those of calls the run did not place.
func (r *receiver) snapshot() (ends map[string]terminal, dupes, strays, malformed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ends = make(map[string]terminal, len(r.ends))
	for sid, t := range r.ends {
		ends[sid] = t
		if !r.expected[sid] {
			strays++
		}
	}
	return ends, r.dupes, strays, r.malformed
}
