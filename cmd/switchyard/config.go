package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/api"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/dialstr"
	"github.com/switchyard/switchyard/orchestrator/notify"
	"github.com/switchyard/switchyard/orchestrator/recstore"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/webhttp"
)

// Config is everything the binary can be told, from flags or SWITCHYARD_*
// environment variables (a flag wins over the environment).
type Config struct {
	Database  string // SWITCHYARD_DB
	HTTPAddr  string // SWITCHYARD_HTTP
	LogLevel  string // SWITCHYARD_LOG_LEVEL
	LogFormat string // SWITCHYARD_LOG_FORMAT
	Demo      bool   // SWITCHYARD_DEMO
	// DemoCampaign (SWITCHYARD_DEMO_CAMPAIGN, default true) seeds the
	// demo's campaign with it; off, its calls stay out of a test's or a
	// load run's.
	DemoCampaign bool
	Drain        time.Duration // SWITCHYARD_DRAIN
	// Detach (SWITCHYARD_DETACH, default true): a call bridged for good
	// lets go of its socket and finishes through the node's connection.
	Detach bool
	// Control (SWITCHYARD_CONTROL, default socket): "node" hands inbound
	// calls to the node's connection before their first command
	// (call.Config.Handoff); "park" has the node's dialplan park them for
	// this instance, which takes them with no socket (package parking);
	// "socket" keeps each on its own socket.
	Control string
	// AdaptProcs (SWITCHYARD_ADAPT_PROCS, default true): run the Go
	// scheduler on one slot while the load is light (package procs),
	// unless GOMAXPROCS is set in the environment.
	AdaptProcs bool
	// SteadyMonitor (SWITCHYARD_STEADY_MONITOR, default true): serve
	// re-executes itself with GODEBUG's schedtrace set, which keeps the
	// Go runtime's monitor thread ticking every 10 ms instead of being
	// woken from deep sleep by each system call after an idle spell
	// (procs.ReexecSteadyMonitor).
	SteadyMonitor bool

	SocketAddr string // SWITCHYARD_SOCKET: where FreeSWITCH's socket application connects
	// SocketAdvertise (SWITCHYARD_SOCKET_ADVERTISE) is the host:port the
	// nodes reach the socket server at, for API calls' first legs; empty
	// means the address SocketAddr is bound to.
	SocketAdvertise string
	// SocketAllow (SWITCHYARD_SOCKET_ALLOW) adds addresses (CIDRs, IPs
	// or "loopback") the socket server takes connections from, beyond
	// the nodes of FSNodes.
	SocketAllow string
	// MaxCalls (SWITCHYARD_MAX_CALLS) refuses new calls while this many
	// are live on this instance (0: no limit).
	MaxCalls int
	// PprofAddr (SWITCHYARD_PPROF) runs Go's profiler on its own
	// listener (empty: off).
	PprofAddr string
	// EgressAllow (SWITCHYARD_EGRESS_ALLOW) lists what requests to
	// tenants' URLs (passthru, connect, dial events, status callbacks)
	// may connect to besides public addresses: comma-separated CIDRs, or
	// loopback, private (webhttp.ParsePolicy). Empty: public only.
	EgressAllow string

	// RateLimit (SWITCHYARD_RATE_LIMIT) is each account's API requests
	// per minute on this instance (0: no limit).
	RateLimit int
	// SigningKey (SWITCHYARD_SIGNING_KEY) signs pre-signed recording
	// URLs: hex or base64, at least 32 bytes. Empty: a key generated once
	// and kept in the database, shared by every instance.
	SigningKey string
	// OpsToken (SWITCHYARD_OPS_TOKEN) opens the operator API (nodes,
	// drains) and guards /metrics; empty: the operator API is off and
	// /metrics is open.
	OpsToken string
	// TrustedProxies (SWITCHYARD_TRUSTED_PROXIES) are the reverse proxies
	// whose X-Forwarded-For names the API client: comma-separated
	// addresses or CIDRs. Empty: the TCP peer is the client.
	TrustedProxies string

	// ready, if set, is told the addresses once serve accepts requests
	// (tests listen on port 0).
	ready func(serving)
	// nodeReconciled, if set, is told a node's address once the calls it
	// had when it restarted are reconciled (tests).
	nodeReconciled func(node string)
	// drainStarted, if set, runs once shutdown has stopped new API calls,
	// while the API still answers (tests).
	drainStarted func()
	// callEnded, if set, is told each CallSid whose final record is
	// written (tests wait on it).
	callEnded func(callSID string)
	// nodeProbe: how often the nodes are probed, and how long an answer
	// may take (tests; 0: esl's defaults).
	nodeProbe time.Duration
	// reattachWait: how long a call whose node connection was lost waits
	// for the node to be back (tests; 0: the call runtime's default).
	reattachWait time.Duration
	// emulatorSpeed runs the embedded emulator's clock faster (tests).
	emulatorSpeed float64
	FSNodes       string // SWITCHYARD_FS_ESL: comma-separated host:port of nodes; empty runs the emulator
	FSPassword    string // SWITCHYARD_FS_PASSWORD
	EmulatorAddr  string // SWITCHYARD_EMULATOR_ESL: the embedded emulator's ESL address
	DialEndpoint  string // SWITCHYARD_DIAL_ENDPOINT
	SIPEndpoint   string // SWITCHYARD_SIP_ENDPOINT
	TrunkEndpoint string // SWITCHYARD_TRUNK_ENDPOINT
	Trunks        string // SWITCHYARD_TRUNKS: trunk=gateway,...
	RecordingsDir string // SWITCHYARD_RECORDINGS
	PublicURL     string // SWITCHYARD_PUBLIC_URL
	NumberSeries  string // SWITCHYARD_NUMBER_SERIES: a number series CSV added to the built-in table
	// Status callback delivery: attempts per callback, the first retry's
	// delay (doubling after), and each attempt's timeout.
	CallbackAttempts int           // SWITCHYARD_CALLBACK_ATTEMPTS
	CallbackRetry    time.Duration // SWITCHYARD_CALLBACK_RETRY
	CallbackTimeout  time.Duration // SWITCHYARD_CALLBACK_TIMEOUT

	// AgentLease is how long a destination held by a call of this
	// instance stays held after the instance dies; QueuePoll how often a
	// queued caller looks for agents freed on other instances.
	AgentLease time.Duration // SWITCHYARD_AGENT_LEASE
	QueuePoll  time.Duration // SWITCHYARD_QUEUE_POLL

	// WriteLinger is how long the calls' writes that nothing waits for
	// (statuses, leg records) wait for company before they commit.
	WriteLinger time.Duration // SWITCHYARD_WRITE_LINGER

	// Email applets go through SMTP (none configured: each email is
	// recorded as failed); SMS through a webhook, or only logged.
	SMTPAddr, SMTPFrom, SMTPUser, SMTPPassword, SMTPStartTLS string
	SMSWebhook, SMSToken                                     string
	// SMSWebhookReports: the webhook gateway posts delivery reports to
	// /gateway/sms/reports, with SMSToken as its bearer token.
	SMSWebhookReports bool
	// SMSProvider sends every SMS (API and applets): testnet (the test
	// phone network), webhook (SMSWebhook) or smpp (SMPP*). Empty picks
	// smpp when SMPPAddr is set, webhook when SMSWebhook is, else testnet.
	SMSProvider                                          string
	SMPPAddr, SMPPSystemID, SMPPPassword, SMPPSystemType string

	// RecordingStore (SWITCHYARD_RECORDING_STORE) is where recordings
	// are archived once their call is over: "disk" (RecordingsDir),
	// "disk:/folder" or "s3://bucket/prefix" with the S3* settings.
	RecordingStore string
	// RecordingFormat (SWITCHYARD_RECORDING_FORMAT) is what recordings
	// are archived as when the request names no RecordingFormat: wav,
	// mp3 or mp3-hq.
	RecordingFormat string
	// The S3-compatible store of an s3:// RecordingStore.
	S3Endpoint  string // SWITCHYARD_S3_ENDPOINT: host:port or URL (empty: AWS)
	S3AccessKey string // SWITCHYARD_S3_ACCESS_KEY
	S3SecretKey string // SWITCHYARD_S3_SECRET_KEY
	S3Region    string // SWITCHYARD_S3_REGION (default us-east-1)
	S3Insecure  bool   // SWITCHYARD_S3_INSECURE: plain HTTP
	// recordingArchived, if set, is told each recording this instance
	// archived (tests wait on it).
	recordingArchived func(store.Recording)
}

func defaultConfig() Config {
	return Config{
		Database:  "data/switchyard.db",
		HTTPAddr:  "127.0.0.1:8080",
		LogLevel:  "info",
		LogFormat: "text",
		Drain:     30 * time.Second,
		RateLimit: api.DefaultRateLimit,

		CallbackAttempts: 8,
		CallbackRetry:    10 * time.Second,
		CallbackTimeout:  15 * time.Second,

		AgentLease: time.Minute,
		QueuePoll:  time.Second,

		WriteLinger:   store.DefaultLinger,
		DemoCampaign:  true,
		Detach:        true,
		Control:       "socket",
		AdaptProcs:    true,
		SteadyMonitor: true,

		SocketAddr:    "127.0.0.1:8084",
		FSPassword:    "ClueCon",
		EmulatorAddr:  "127.0.0.1:8021",
		DialEndpoint:  "loopback/{number}/switchyard_testnet",
		SIPEndpoint:   "sofia/external/{uri}",
		TrunkEndpoint: call.DefaultTrunkEndpoint,
		RecordingsDir: "data/recordings",

		RecordingStore:  "disk",
		RecordingFormat: "wav",
	}
}

// option binds one setting to a flag and an environment variable.
type option struct {
	flag, env, usage string
	str              *string
	boolean          *bool
	dur              *time.Duration
	num              *int
}

func (c *Config) options(http bool) []option {
	opts := []option{
		{flag: "db", env: "SWITCHYARD_DB", str: &c.Database,
			usage: "database: a SQLite file path, or a postgres:// URL"},
		{flag: "log-level", env: "SWITCHYARD_LOG_LEVEL", str: &c.LogLevel,
			usage: "log level: debug, info, warn or error"},
		{flag: "log-format", env: "SWITCHYARD_LOG_FORMAT", str: &c.LogFormat,
			usage: "log format: text or json"},
	}
	if http {
		opts = append(opts,
			option{flag: "http", env: "SWITCHYARD_HTTP", str: &c.HTTPAddr,
				usage: "address the HTTP API listens on"},
			option{flag: "demo", env: "SWITCHYARD_DEMO", boolean: &c.Demo,
				usage: "seed a demo account, its flows and ExoPhones (idempotent) and print the credentials"},
			option{flag: "demo-campaign", env: "SWITCHYARD_DEMO_CAMPAIGN", boolean: &c.DemoCampaign,
				usage: "with -demo, also seed the demo campaign, which calls the test network's contacts at once (false: keep its calls out of a load run)"},
			option{flag: "detach", env: "SWITCHYARD_DETACH", boolean: &c.Detach,
				usage: "let a call go of its socket once it is bridged and the flow has nothing more for the caller; its last events come through the node's connection (false: keep every socket to the end)"},
			option{flag: "control", env: "SWITCHYARD_CONTROL", str: &c.Control,
				usage: "how inbound calls are driven: socket (each over the outbound socket the node opened for it) or node (the socket only hands the call over; its commands and events go over this instance's connection to the node, which the node serves at less CPU a call; needs freeswitch-conf's switchyard_unavailable extension, which parks such calls) or park (the node's dialplan parks each call for the instance that owns the node's parked calls, which takes it with no socket at all; one instance owns a node at a time, the others stand by; needs freeswitch-conf's managed-number extension of this version)"},
			option{flag: "adapt-procs", env: "SWITCHYARD_ADAPT_PROCS", boolean: &c.AdaptProcs,
				usage: "run on one core's worth of Go scheduler while serve uses little CPU, on all cores once it needs more: fewer thread wake-ups per event (false, or GOMAXPROCS set: leave the scheduler alone)"},
			option{flag: "steady-monitor", env: "SWITCHYARD_STEADY_MONITOR", boolean: &c.SteadyMonitor,
				usage: "start over with GODEBUG schedtrace set, so the Go runtime's monitor thread ticks every 10 ms rather than being woken by each system call after an idle spell: less CPU a call at light load (false, or schedtrace already in GODEBUG: run as started)"},
			option{flag: "drain", env: "SWITCHYARD_DRAIN", dur: &c.Drain,
				usage: "how long shutdown waits for live calls to finish"},
			option{flag: "socket", env: "SWITCHYARD_SOCKET", str: &c.SocketAddr,
				usage: "address FreeSWITCH's socket application connects to (outbound ESL)"},
			option{flag: "socket-advertise", env: "SWITCHYARD_SOCKET_ADVERTISE", str: &c.SocketAdvertise,
				usage: "host:port the nodes reach the socket server at, for API calls (default: the -socket address)"},
			option{flag: "socket-allow", env: "SWITCHYARD_SOCKET_ALLOW", str: &c.SocketAllow,
				usage: "more peers the socket server takes calls from, comma-separated CIDRs, IPs or 'loopback' (default: only the -fs nodes' addresses, or loopback for the emulator)"},
			option{flag: "max-calls", env: "SWITCHYARD_MAX_CALLS", num: &c.MaxCalls,
				usage: "refuse new calls while this many are live here (0: no limit); the node then runs its dialplan's fallback (unavailable prompt, 503)"},
			option{flag: "pprof", env: "SWITCHYARD_PPROF", str: &c.PprofAddr,
				usage: "address of an opt-in listener for Go's profiler, /debug/pprof/ (empty: off); keep it on loopback"},
			option{flag: "fs", env: "SWITCHYARD_FS_ESL", str: &c.FSNodes,
				usage: "FreeSWITCH nodes' event sockets, host:port[,host:port...]; empty runs the embedded emulator"},
			option{flag: "fs-password", env: "SWITCHYARD_FS_PASSWORD", str: &c.FSPassword,
				usage: "FreeSWITCH event socket password"},
			option{flag: "emulator", env: "SWITCHYARD_EMULATOR_ESL", str: &c.EmulatorAddr,
				usage: "event socket address of the embedded emulator (when no -fs is given)"},
			option{flag: "dial-endpoint", env: "SWITCHYARD_DIAL_ENDPOINT", str: &c.DialEndpoint,
				usage: "endpoint for dialling a phone number, with {number}, e.g. sofia/gateway/carrier/{number}"},
			option{flag: "trunk-endpoint", env: "SWITCHYARD_TRUNK_ENDPOINT", str: &c.TrunkEndpoint,
				usage: "endpoint for a SIP trunk destination (sip:<TrunkID>), with {gateway} and {user} (the ExoPhone)"},
			option{flag: "trunks", env: "SWITCHYARD_TRUNKS", str: &c.Trunks,
				usage: "comma-separated trunk=gateway: the FreeSWITCH gateway each trunk ID is dialled through (a trunk not listed names a gateway of its own name)"},
			option{flag: "sip-endpoint", env: "SWITCHYARD_SIP_ENDPOINT", str: &c.SIPEndpoint,
				usage: "endpoint for dialling a sip: URI, with {uri}"},
			option{flag: "recordings", env: "SWITCHYARD_RECORDINGS", str: &c.RecordingsDir,
				usage: "folder where the media node writes recordings"},
			option{flag: "recording-store", env: "SWITCHYARD_RECORDING_STORE", str: &c.RecordingStore,
				usage: "where finished recordings are archived: disk (the -recordings folder), disk:/folder, or s3://bucket/prefix (with the -s3-* settings)"},
			option{flag: "recording-format", env: "SWITCHYARD_RECORDING_FORMAT", str: &c.RecordingFormat,
				usage: "format recordings are archived in when the call's request names none: wav, mp3 or mp3-hq"},
			option{flag: "s3-endpoint", env: "SWITCHYARD_S3_ENDPOINT", str: &c.S3Endpoint,
				usage: "S3-compatible endpoint of an s3:// recording store, host:port or http(s)://host:port (empty: AWS S3)"},
			option{flag: "s3-access-key", env: "SWITCHYARD_S3_ACCESS_KEY", str: &c.S3AccessKey,
				usage: "access key of the recording store"},
			option{flag: "s3-secret-key", env: "SWITCHYARD_S3_SECRET_KEY", str: &c.S3SecretKey,
				usage: "secret key of the recording store; prefer the environment variable"},
			option{flag: "s3-region", env: "SWITCHYARD_S3_REGION", str: &c.S3Region,
				usage: "region of the recording store's bucket (default us-east-1)"},
			option{flag: "s3-insecure", env: "SWITCHYARD_S3_INSECURE", boolean: &c.S3Insecure,
				usage: "talk plain HTTP to the recording store instead of TLS"},
			option{flag: "rate-limit", env: "SWITCHYARD_RATE_LIMIT", num: &c.RateLimit,
				usage: "API requests per minute per account on this instance, in bursts of as many; over it 429 (0: no limit)"},
			option{flag: "ops-token", env: "SWITCHYARD_OPS_TOKEN", str: &c.OpsToken,
				usage: "operator token, at least 16 characters: Authorization: Bearer <token> opens /ops/v1/nodes (list, drain) and /metrics; prefer the environment variable (empty: no operator API, /metrics open)"},
			option{flag: "signing-key", env: "SWITCHYARD_SIGNING_KEY", str: &c.SigningKey,
				usage: "key signing pre-signed recording URLs, hex or base64, at least 32 bytes; prefer the environment variable (empty: one generated once and kept in the database)"},
			option{flag: "trusted-proxies", env: "SWITCHYARD_TRUSTED_PROXIES", str: &c.TrustedProxies,
				usage: "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For names the API client (empty: the TCP peer is the client)"},
			option{flag: "public-url", env: "SWITCHYARD_PUBLIC_URL", str: &c.PublicURL,
				usage: "base URL of this API as clients reach it (recording URLs); default http://<-http>"},
			option{flag: "number-series", env: "SWITCHYARD_NUMBER_SERIES", str: &c.NumberSeries,
				usage: "CSV of number series (prefix,type,circle,circle_name,operator,operator_name) the Numbers API adds to its built-in table"},
			option{flag: "smtp", env: "SWITCHYARD_SMTP_ADDR", str: &c.SMTPAddr,
				usage: "SMTP server host:port for email applets (empty: emails are recorded as failed)"},
			option{flag: "smtp-from", env: "SWITCHYARD_SMTP_FROM", str: &c.SMTPFrom,
				usage: "sender address of email applets"},
			option{flag: "smtp-user", env: "SWITCHYARD_SMTP_USER", str: &c.SMTPUser,
				usage: "SMTP AUTH PLAIN user (only over TLS or to localhost)"},
			option{flag: "smtp-password", env: "SWITCHYARD_SMTP_PASSWORD", str: &c.SMTPPassword,
				usage: "SMTP AUTH PLAIN password"},
			option{flag: "smtp-starttls", env: "SWITCHYARD_SMTP_STARTTLS", str: &c.SMTPStartTLS,
				usage: "STARTTLS policy: require, if-offered or none"},
			option{flag: "sms-webhook", env: "SWITCHYARD_SMS_WEBHOOK", str: &c.SMSWebhook,
				usage: "URL of the webhook SMS provider: each SMS is POSTed as JSON {sid, from, to, body, call_sid, …}"},
			option{flag: "sms-token", env: "SWITCHYARD_SMS_TOKEN", str: &c.SMSToken,
				usage: "bearer token for the SMS webhook, both ways (prefer the environment variable)"},
			option{flag: "sms-webhook-reports", env: "SWITCHYARD_SMS_WEBHOOK_REPORTS", boolean: &c.SMSWebhookReports,
				usage: "the SMS webhook gateway posts delivery reports to /gateway/sms/reports (needs -sms-token); messages stay submitted until theirs comes"},
			option{flag: "sms-provider", env: "SWITCHYARD_SMS_PROVIDER", str: &c.SMSProvider,
				usage: "what sends SMS: testnet, webhook or smpp (empty: smpp if -smpp-addr is set, webhook if -sms-webhook is, else testnet)"},
			option{flag: "smpp-addr", env: "SWITCHYARD_SMPP_ADDR", str: &c.SMPPAddr,
				usage: "SMSC host:port for the smpp SMS provider (bound as a transceiver)"},
			option{flag: "smpp-system-id", env: "SWITCHYARD_SMPP_SYSTEM_ID", str: &c.SMPPSystemID,
				usage: "SMPP system_id"},
			option{flag: "smpp-password", env: "SWITCHYARD_SMPP_PASSWORD", str: &c.SMPPPassword,
				usage: "SMPP password; prefer the environment variable"},
			option{flag: "smpp-system-type", env: "SWITCHYARD_SMPP_SYSTEM_TYPE", str: &c.SMPPSystemType,
				usage: "SMPP system_type (often empty)"},
			option{flag: "egress-allow", env: "SWITCHYARD_EGRESS_ALLOW", str: &c.EgressAllow,
				usage: "comma-separated CIDRs (or loopback, private) that passthru, connect, dial event and status callback URLs may reach besides public addresses (empty: public only)"},
			option{flag: "callback-attempts", env: "SWITCHYARD_CALLBACK_ATTEMPTS", num: &c.CallbackAttempts,
				usage: "delivery attempts per status callback before it is marked failed"},
			option{flag: "callback-retry", env: "SWITCHYARD_CALLBACK_RETRY", dur: &c.CallbackRetry,
				usage: "delay before a status callback's first retry; it doubles after each attempt (capped at 1h)"},
			option{flag: "callback-timeout", env: "SWITCHYARD_CALLBACK_TIMEOUT", dur: &c.CallbackTimeout,
				usage: "timeout of one status callback attempt"},
			option{flag: "agent-lease", env: "SWITCHYARD_AGENT_LEASE", dur: &c.AgentLease,
				usage: "how long an agent held by this instance's call stays busy if the instance dies (refreshed every third of it while alive)"},
			option{flag: "queue-poll", env: "SWITCHYARD_QUEUE_POLL", dur: &c.QueuePoll,
				usage: "how often a queued caller checks for agents freed on other instances"},
			option{flag: "write-linger", env: "SWITCHYARD_WRITE_LINGER", dur: &c.WriteLinger,
				usage: "how long call status and leg writes wait to share a transaction (0: commit each at once; at most 1s)"},
		)
	}
	return opts
}

// parse reads the environment, then the flags, then checks the result.
func (c *Config) parse(fs *flag.FlagSet, args []string, http bool) error {
	opts := c.options(http)
	for _, o := range opts {
		if err := o.fromEnv(); err != nil {
			return err
		}
		usage := fmt.Sprintf("%s (env %s)", o.usage, o.env)
		switch {
		case o.str != nil:
			fs.StringVar(o.str, o.flag, *o.str, usage)
		case o.boolean != nil:
			fs.BoolVar(o.boolean, o.flag, *o.boolean, usage)
		case o.dur != nil:
			fs.DurationVar(o.dur, o.flag, *o.dur, usage)
		case o.num != nil:
			fs.IntVar(o.num, o.flag, *o.num, usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	return c.validate()
}

func (o option) fromEnv() error {
	v, ok := os.LookupEnv(o.env)
	if !ok || v == "" {
		return nil
	}
	switch {
	case o.str != nil:
		*o.str = v
	case o.boolean != nil:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%q: not a boolean", o.env, v)
		}
		*o.boolean = b
	case o.dur != nil:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s=%q: not a duration such as 30s", o.env, v)
		}
		*o.dur = d
	case o.num != nil:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%s=%q: not a whole number", o.env, v)
		}
		*o.num = n
	}
	return nil
}

func (c *Config) validate() error {
	var errs []error
	if c.Database == "" {
		errs = append(errs, errors.New("a database is required (-db or SWITCHYARD_DB)"))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.Control != "socket" && c.Control != "node" && c.Control != "park" {
		errs = append(errs, fmt.Errorf("control %q: use socket, node or park", c.Control))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log format %q: use text or json", c.LogFormat))
	}
	if !strings.Contains(c.DialEndpoint, "{number}") {
		errs = append(errs, fmt.Errorf("dial endpoint %q: must contain {number}", c.DialEndpoint))
	}
	if !strings.Contains(c.SIPEndpoint, "{uri}") {
		errs = append(errs, fmt.Errorf("sip endpoint %q: must contain {uri}", c.SIPEndpoint))
	}
	if !strings.Contains(c.TrunkEndpoint, "{gateway}") {
		errs = append(errs, fmt.Errorf("trunk endpoint %q: must contain {gateway}", c.TrunkEndpoint))
	}
	if _, err := c.trunkGateways(); err != nil {
		errs = append(errs, err)
	}
	if c.CallbackAttempts < 1 || c.CallbackAttempts > 100 {
		errs = append(errs, fmt.Errorf("callback attempts %d: use 1 to 100", c.CallbackAttempts))
	}
	if c.CallbackRetry <= 0 || c.CallbackTimeout <= 0 {
		errs = append(errs, errors.New("callback retry delay and timeout must be positive"))
	}
	if _, err := notify.ParseStartTLSPolicy(c.SMTPStartTLS); err != nil {
		errs = append(errs, err)
	}
	if c.SMTPAddr != "" && c.SMTPFrom == "" {
		errs = append(errs, errors.New("an SMTP server needs a sender: -smtp-from or SWITCHYARD_SMTP_FROM"))
	}
	if c.AgentLease < 3*time.Second || c.QueuePoll <= 0 {
		errs = append(errs, errors.New("agent lease must be at least 3s and queue poll positive"))
	}
	if c.WriteLinger < 0 || c.WriteLinger > time.Second {
		errs = append(errs, fmt.Errorf("write linger %s: must be from 0 to 1s", c.WriteLinger))
	}
	if c.Drain < 0 {
		errs = append(errs, fmt.Errorf("drain %s: must not be negative", c.Drain))
	}
	if _, err := webhttp.ParsePolicy(c.EgressAllow); err != nil {
		errs = append(errs, fmt.Errorf("-egress-allow: %w", err))
	}
	if _, err := c.smsProvider(); err != nil {
		errs = append(errs, err)
	}
	if c.RateLimit < 0 {
		errs = append(errs, fmt.Errorf("-rate-limit %d: must not be negative (0: no limit)", c.RateLimit))
	}
	switch c.RecordingFormat {
	case "wav", "mp3", "mp3-hq":
	default:
		errs = append(errs, fmt.Errorf("-recording-format %q: use wav, mp3 or mp3-hq", c.RecordingFormat))
	}
	if _, err := c.recordingStore(); err != nil {
		errs = append(errs, fmt.Errorf("-recording-store: %w", err))
	}
	if c.OpsToken != "" && len(c.OpsToken) < api.MinOpsToken {
		errs = append(errs, fmt.Errorf("-ops-token: at least %d characters", api.MinOpsToken))
	}
	if c.SigningKey != "" {
		if _, err := api.ParseSigningKey(c.SigningKey); err != nil {
			errs = append(errs, fmt.Errorf("-signing-key: %w", err))
		}
	}
	if _, err := api.ParseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("-trusted-proxies: %w", err))
	}
	return errors.Join(errs...)
}

// nodes lists the configured FreeSWITCH nodes.
func (c *Config) nodes() []string {
	var out []string
	for _, n := range strings.Split(c.FSNodes, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("log level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

func (c *Config) logger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// recordingStore opens the blob store recordings are archived in.
func (c *Config) recordingStore() (recstore.Store, error) {
	return recstore.Open(recstore.Config{Spec: c.RecordingStore, DiskRoot: c.RecordingsDir, S3: recstore.S3Config{
		Endpoint: c.S3Endpoint, AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey, Region: c.S3Region, Insecure: c.S3Insecure,
	}})
}

// smsProvider is the SMS provider the configuration names (see
// SMSProvider).
func (c *Config) smsProvider() (string, error) {
	p := strings.ToLower(c.SMSProvider)
	if p == "" {
		switch {
		case c.SMPPAddr != "":
			p = "smpp"
		case c.SMSWebhook != "":
			p = "webhook"
		default:
			p = "testnet"
		}
	}
	switch p {
	case "testnet":
		return p, nil
	case "webhook":
		if c.SMSWebhook == "" {
			return "", errors.New("-sms-provider webhook needs -sms-webhook (SWITCHYARD_SMS_WEBHOOK)")
		}
		if c.SMSWebhookReports && len(c.SMSToken) < 16 {
			return "", errors.New("-sms-webhook-reports needs -sms-token (SWITCHYARD_SMS_TOKEN) of at least 16 characters: the gateway's reports are checked against it")
		}
		return p, nil
	case "smpp":
		if c.SMPPAddr == "" {
			return "", errors.New("-sms-provider smpp needs -smpp-addr (SWITCHYARD_SMPP_ADDR)")
		}
		return p, nil
	}
	return "", fmt.Errorf("-sms-provider %q: use testnet, webhook or smpp", c.SMSProvider)
}

// trunkGateways reads -trunks: trunk=gateway pairs, each a valid trunk
// ID and gateway name.
func (c *Config) trunkGateways() (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(c.Trunks, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		trunk, gw, ok := strings.Cut(pair, "=")
		trunk, gw = strings.TrimSpace(trunk), strings.TrimSpace(gw)
		if !ok || !dialstr.TrunkID(trunk) || !dialstr.TrunkID(gw) {
			return nil, fmt.Errorf("trunks %q: want trunk=gateway, each letters, digits, '-', '_' or '.'", pair)
		}
		if _, dup := out[trunk]; dup {
			return nil, fmt.Errorf("trunks: %s is given twice", trunk)
		}
		out[trunk] = gw
	}
	return out, nil
}
