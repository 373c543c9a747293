package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// receiver takes the status callbacks of an API run, the terminal one of
// each call by CallSid, and keeps the CallSids the API accepted.
type receiver struct {
	l   net.Listener
	srv *http.Server
	log *slog.Logger

	mu sync.Mutex
	// accepted are the CallSids the API answered with; a callback may
	// come before its call's answer, so ends holds every CallSid's, and
	// ended counts the accepted ones among them.
	accepted  map[string]bool
	ends      map[string]terminal // CallSid -> its first terminal callback
	ended     int
	dupes     int // terminal callbacks after a call's first
	malformed int
	changed   chan struct{} // a value when ended grew since the last look
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
	r := &receiver{l: l, log: log, accepted: map[string]bool{}, ends: map[string]terminal{},
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
	defer r.mu.Unlock()
	if _, seen := r.ends[cb.CallSid]; seen {
		r.dupes++
		return
	}
	r.ends[cb.CallSid] = terminal{status: cb.Status, at: at}
	if r.accepted[cb.CallSid] {
		r.endOne()
	}
}

// endOne counts an accepted call's end and wakes waitFor. Called with
// r.mu held.
func (r *receiver) endOne() {
	r.ended++
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
		req.Body = io.NopCloser(bytes.NewReader(body))
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

// accept notes a CallSid the API answered with.
func (r *receiver) accept(sid string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.accepted[sid] {
		return
	}
	r.accepted[sid] = true
	if _, ok := r.ends[sid]; ok {
		r.endOne() // its callback came first
	}
}

// counts is how many calls were accepted, and how many of them ended.
func (r *receiver) counts() (accepted, ended int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.accepted), r.ended
}

// waitFor waits until every accepted call has its terminal callback, at
// most wait. Call it once no more calls are accepted.
func (r *receiver) waitFor(ctx context.Context, wait time.Duration) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		if accepted, ended := r.counts(); ended == accepted {
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

// received is what a receiver took: the accepted CallSids (sorted), the
// terminal callback of those that ended, and the callbacks counted apart.
type received struct {
	accepted                 []string
	ends                     map[string]terminal
	dupes, strays, malformed int
}

// snapshot copies what came; strays are callbacks of calls the run did
// not place.
func (r *receiver) snapshot() received {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := received{accepted: slices.Sorted(maps.Keys(r.accepted)), ends: make(map[string]terminal, r.ended),
		dupes: r.dupes, malformed: r.malformed}
	for sid, t := range r.ends {
		if r.accepted[sid] {
			got.ends[sid] = t
		} else {
			got.strays++
		}
	}
	return got
}
