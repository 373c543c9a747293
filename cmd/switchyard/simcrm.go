package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// crmConfig is what the sample CRM answers programmable connects with.
type crmConfig struct {
	agents          []string
	version         string
	stateManagement bool
	sticky          bool
	record          bool
	maxRinging      int
	eventsURL       string
}

// simCRM runs a sample customer CRM for programmable connect: it answers
// GET /connect with the agents to ring (Exotel's v1.1 or v1.0 answer) and
// prints the dial events and passthru requests Switchyard sends it.
func simCRM(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim crm", "sim crm --agents NUMBER[,NUMBER...] [flags]", stderr)
	listen := fs.String("listen", "127.0.0.1:9090", "address to listen on")
	agents := fs.String("agents", "", "agents to ring, in order: phone numbers or sip: URIs, comma-separated (required)")
	version := fs.String("version", "1.1", "answer format: 1.1 (destination[].contact_uri) or 1.0 (destination.numbers)")
	state := fs.Bool("state-management", true, "ask Switchyard to skip agents already on a call")
	sticky := fs.Bool("sticky", false, "ask for the caller's last agent first")
	record := fs.Bool("record", true, "record the conversation")
	ringing := fs.Int("max-ringing", 20, "seconds each agent rings")
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	cfg := crmConfig{version: *version, stateManagement: *state, sticky: *sticky, record: *record, maxRinging: *ringing}
	for _, a := range strings.Split(*agents, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if _, ok := store.ContactKey(a); !ok {
			return fmt.Errorf("sim crm: agent %q is not a phone number or sip: URI", a)
		}
		cfg.agents = append(cfg.agents, a)
	}
	if len(cfg.agents) == 0 {
		fmt.Fprintln(stderr, "sim crm: --agents is required")
		return errUsage
	}
	if cfg.version != "1.1" && cfg.version != "1.0" {
		return fmt.Errorf("sim crm: --version %q: use 1.1 or 1.0", cfg.version)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("sim crm: %w", err)
	}
	base := "http://" + l.Addr().String()
	cfg.eventsURL = base + "/events"
	fmt.Fprintf(stdout, "sample CRM on %s\n  programmable connect URL: %s/connect\n  passthru URL:             %s/passthru\n", base, base, base)
	srv := &http.Server{Handler: crmHandler(cfg, stdout), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sim crm: %w", err)
	}
	return nil
}

// crmHandler serves the sample CRM.
func crmHandler(cfg crmConfig, out io.Writer) http.Handler {
	var mu sync.Mutex
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, time.Now().Format("15:04:05 ")+format+"\n", a...)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /connect", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		say("connect: call %s from %s to %s (Exotel-Version %s) -> %s", q.Get("CallSid"), q.Get("From"), q.Get("To"),
			r.Header.Get("Exotel-Version"), strings.Join(cfg.agents, ", "))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(cfg.answer())
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		extra := ""
		if s := q.Get("DialCallStatus"); s != "" {
			extra = " (" + s + ")"
		}
		say("dial event: call %s %-8s %s is %s%s", q.Get("CallSid"), q.Get("EventType"), q.Get("DialWhomNumber"), q.Get("Status"), extra)
	})
	mux.HandleFunc("/passthru", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		say("passthru: call %s from %s, digits %s, dial status %s", q.Get("CallSid"), q.Get("From"), q.Get("digits"), q.Get("DialCallStatus"))
	})
	return mux
}

// answer is the programmable connect answer, in the configured format.
func (cfg crmConfig) answer() map[string]any {
	a := map[string]any{
		"fetch_after_attempt":  false,
		"max_ringing_duration": cfg.maxRinging,
		"parallel_ringing":     map[string]any{"activate": false, "max_parallel_attempts": 1},
		"music_on_hold":        map[string]any{"type": "default_tone"},
		"start_call_playback":  map[string]any{"playback_to": "callee", "type": "text", "value": "You have a customer call"},
	}
	if cfg.version == "1.0" {
		a["destination"] = map[string]any{"numbers": cfg.agents}
		a["record"] = cfg.record
		a["recording_channels"] = "dual"
		a["dial_passthru_event_url"] = cfg.eventsURL
		return a
	}
	dest := make([]map[string]string, len(cfg.agents))
	for i, ag := range cfg.agents {
		dest[i] = map[string]string{"contact_uri": ag}
	}
	a["destination"] = dest
	a["recording"] = map[string]any{"record": cfg.record, "channels": "dual"}
	a["state_management"] = cfg.stateManagement
	a["sticky_agent"] = cfg.sticky
	a["call_event_passthru_url"] = cfg.eventsURL
	return a
}
