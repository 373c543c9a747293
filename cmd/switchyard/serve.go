package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/api"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/callback"
	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/demo"
	"github.com/switchyard/switchyard/orchestrator/dialer"
	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/exotime"
	"github.com/switchyard/switchyard/orchestrator/fsim"
	"github.com/switchyard/switchyard/orchestrator/metrics"
	"github.com/switchyard/switchyard/orchestrator/notify"
	"github.com/switchyard/switchyard/orchestrator/parking"
	"github.com/switchyard/switchyard/orchestrator/passthru"
	"github.com/switchyard/switchyard/orchestrator/recarchive"
	"github.com/switchyard/switchyard/orchestrator/routing"
	"github.com/switchyard/switchyard/orchestrator/sms"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/webhttp"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := defaultConfig()
	fs := newFlagSet("serve", "serve [flags]", stderr)
	if err := cfg.parse(fs, args, true); err != nil {
		return flagErr(err)
	}
	log := cfg.logger(stderr)
	steadyMonitor(cfg, log) // before anything is opened or started
	return runServe(ctx, cfg, stdout, log)
}

// serving is what a started server listens on (for Config.ready).
type serving struct {
	HTTP, Socket, ESL string // ESL: the embedded emulator's, if it runs
	Instance          string // this process's instance ID
}

// runServe runs the server until ctx ends, then shuts it down gracefully.
func runServe(ctx context.Context, cfg Config, stdout io.Writer, log *slog.Logger) error {
	db, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	apiOpts, err := apiOptions(ctx, cfg, db)
	if err != nil {
		return err
	}
	if cfg.Demo {
		var opts []demo.Option
		if !cfg.DemoCampaign {
			opts = append(opts, demo.WithoutCampaign())
		}
		tenant, err := demo.Seed(ctx, db, opts...)
		if err != nil {
			return err
		}
		printDemo(stdout, cfg, tenant)
	}

	l, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	defer l.Close()
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + l.Addr().String()
	}
	recordings, err := filepath.Abs(cfg.RecordingsDir)
	if err != nil {
		return fmt.Errorf("recordings folder: %w", err)
	}
	if cfg.PprofAddr != "" {
		stop, err := servePprof(ctx, cfg.PprofAddr, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	socketL, err := net.Listen("tcp", cfg.SocketAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.SocketAddr, err)
	}
	advertise := cfg.SocketAdvertise
	if advertise == "" {
		advertise = socketL.Addr().String()
	}
	// Metrics of every part, served at /metrics.
	met := metrics.New(version)
	// This process: its calls and its callback deliveries carry its ID.
	self := newInstance(advertise)
	// Every request to a tenant's URL (status callbacks, passthru,
	// programmable connect, dial events) goes through one client: no
	// redirects, and only public addresses plus -egress-allow.
	egressPolicy, err := webhttp.ParsePolicy(cfg.EgressAllow)
	if err != nil {
		return fmt.Errorf("egress allow-list: %w", err)
	}
	egress := webhttp.Client(egressPolicy, 0)
	log.Info("egress: requests to tenants' URLs", "may_reach", egressPolicy.String())
	callbacks, err := callback.New(db, callback.Config{
		HTTPClient:  egress,
		Timeout:     cfg.CallbackTimeout,
		MaxAttempts: cfg.CallbackAttempts,
		Backoff:     callback.ExpBackoff(cfg.CallbackRetry),
		UserAgent:   "Switchyard/" + version,
		ClientID:    self.ID,
		Metrics:     met,
	}, log.With("component", "callbacks"))
	if err != nil {
		return fmt.Errorf("status callbacks: %w", err)
	}
	if err := callbacks.Start(ctx); err != nil {
		return fmt.Errorf("status callbacks: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if err := callbacks.Stop(sctx); err != nil {
			log.Warn("status callbacks: stop", "err", err)
		}
	}()
	// SMS (API and applets) are queued in the store and sent by this
	// sender's worker, started below and joined before the provider
	// closes.
	smsOut, closeSMS, err := smsSender(db, cfg, callbacks.Notify, log)
	if err != nil {
		return err
	}
	defer closeSMS()
	nodeAddrs := cfg.nodes()
	var emulator *fsim.Server
	if len(nodeAddrs) == 0 {
		if err := os.MkdirAll(recordings, 0o750); err != nil {
			return fmt.Errorf("recordings folder: %w", err)
		}
		emulator = fsim.New(fsim.Config{Tick: fsim.DefaultTick, Speed: cfg.emulatorSpeed, SocketAddr: socketL.Addr().String(),
			RecordingsDir: recordings, Logger: log.With("component", "emulator")})
		if err := emulator.Listen(cfg.EmulatorAddr); err != nil {
			return fmt.Errorf("emulator: %w", err)
		}
		defer emulator.Close()
		nodeAddrs = []string{emulator.Addr()}
		log.Warn("NO FREESWITCH CONFIGURED: running the embedded FreeSWITCH emulator (no real audio). "+
			"Set SWITCHYARD_FS_ESL=host:8021 to drive real FreeSWITCH nodes.", "emulator_esl", emulator.Addr())
	}
	// Everything started below on its own goroutine is joined before the
	// deferred closes (the write queue, the database) run.
	var running sync.WaitGroup
	defer running.Wait()
	nodesCtx, stopNodes := context.WithCancel(context.WithoutCancel(ctx))
	defer stopNodes()
	governProcs(nodesCtx, cfg, &running, log)
	var nodes []*esl.Node
	// A node that restarted has lost every call it had: the reconciler
	// closes them at once (keepInstance). A node whose connection was
	// lost may have left its calls' sockets open and silent: they are
	// checked (checkDownNodes).
	restarted := make(chan string, 16)
	down := make(chan string, 16)
	// With detach on, a node's connection also carries the last events of
	// the calls that let go of their sockets, and only theirs; calls
	// handed off to it (-control node) are run over it from their first
	// command.
	//
	// With -control park the dialplan parks calls for this instance, which
	// takes them from the CHANNEL_PARK its nodes' connections deliver;
	// those that still come over a socket (a parked call's fallback) are
	// handed off.
	var detachEvents []string
	var detachFilter []esl.Filter
	park := cfg.Control == "park"
	handoff := cfg.Control == "node" || park
	if cfg.Detach || handoff {
		detachEvents, detachFilter = call.NodeSubscription(self.ID, handoff)
	}
	var intake atomic.Pointer[parking.Intake]
	takeParked := func(conn *esl.Conn, ev esl.Event) {
		if in := intake.Load(); in != nil {
			in.Take(conn, ev)
		}
	}
	for _, addr := range nodeAddrs {
		n := esl.NewNode(esl.NodeConfig{Addr: addr, Password: cfg.FSPassword, Logger: log,
			Events: detachEvents, Filters: detachFilter, OnEvent: takeParked,
			ProbeInterval: cfg.nodeProbe, ProbeTimeout: cfg.nodeProbe, Metrics: met,
			OnRestart: func(_, _ string) {
				met.NodeRestarted(addr)
				select {
				case restarted <- addr:
				default: // a pass for this node is pending already
				}
			},
			OnDown: func(core string) {
				select {
				case down <- core:
				default: // checks are pending already; the sockets close on their own commands' timeouts
				}
			}})
		nodes = append(nodes, n)
		running.Go(func() { n.Run(nodesCtx) })
	}
	// The cluster shares each node's state and the drain switches
	// through the database.
	cluster := clusterNodes(db, nodes, self, log)
	running.Go(func() { cluster.Run(nodesCtx) })
	met.Nodes(func() []metrics.NodeSample { return esl.NodeSamples(nodes) })
	builder := callback.Builder{Zone: exotime.IST}
	// This process's calls carry its instance ID; it beats (keepInstance)
	// from before the first call until its calls are done and their
	// writes have landed, and leaves.
	if err := db.Instances().Beat(ctx, self); err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	defer func() {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := db.Instances().Leave(lctx, self.ID); err != nil {
			log.Warn("instance: leave failed; other instances will reconcile what is left", "err", err)
		}
	}()
	// Calls write through a queue: their steps do not wait on the
	// database, and concurrent calls share transactions. It is closed
	// (what is queued lands) after the calls and the API have stopped.
	linger := cfg.WriteLinger
	if linger == 0 {
		linger = -1 // at once
	}
	writes := store.NewQueue(db, store.QueueConfig{Logger: log.With("component", "store-queue"), Metrics: met, Linger: linger})
	defer func() {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if err := writes.Close(wctx); err != nil {
			log.Error("shutdown: store writes lost; the reconciler will close their calls", "err", err)
		}
		st := writes.Stats()
		log.Info("shutdown: store writes done", "writes", st.Writes, "transactions", st.Transactions)
	}()
	// Requests' log rows follow their calls' writes in the queue; dial
	// events stop before it closes.
	routingCfg := routing.Config{UserAgent: "Switchyard/" + version, HTTPClient: egress, Metrics: met, Writes: writes}
	dialEvents := routing.NewEvents(db, routingCfg, log.With("component", "dial-events"))
	defer func() {
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := dialEvents.Close(ectx); err != nil {
			log.Warn("dial events: close", "err", err)
		}
	}()
	// The dialer hears of every call's end (a campaign's call frees a
	// slot); it exists before any call can end.
	var dial *dialer.Dialer
	campaignCallEnded := func(sid string) {
		if cfg.callEnded != nil {
			cfg.callEnded(sid)
		}
		dial.CallEnded(sid)
	}
	// Recordings are archived (transcoded, put in the blob store) once
	// their call is over; the end of a call that recorded wakes the archiver.
	blobs, err := cfg.recordingStore()
	if err != nil {
		return fmt.Errorf("recording store: %w", err)
	}
	archiver := recarchive.New(db, blobs, recarchive.Config{Instance: self.ID, OnArchived: cfg.recordingArchived},
		log.With("component", "recordings"))
	running.Go(func() { archiver.Run(nodesCtx) })
	gateways, _ := cfg.trunkGateways() // checked by validate
	pool := esl.NewPool(nodes...)
	var detacher call.Detacher
	if cfg.Detach || handoff {
		detacher = call.PoolDetacher(pool)
	}
	runtime := call.New(call.NewQueuedStore(db, writes), call.Config{
		Instance:      self.ID,
		Endpoints:     call.Endpoints{Number: cfg.DialEndpoint, SIP: cfg.SIPEndpoint, Trunk: cfg.TrunkEndpoint, Gateways: gateways},
		RecordingsDir: recordings,
		RecordingURL: func(account, id string) string {
			return strings.TrimRight(publicURL, "/") + "/v1/Accounts/" + account + "/Recordings/" + id
		},
		Nodes:             call.PoolNodes(pool),
		Detach:            detacher,
		Handoff:           handoff,
		NoDetach:          !cfg.Detach,
		NodeOf:            cluster.NameOf,
		SocketAddr:        advertise,
		TerminalCallbacks: builder.Terminal,
		AnsweredCallbacks: builder.Answered,
		NotifyCallbacks:   callbacks.Notify,
		Planner:           routing.New(db, routingCfg, log.With("component", "connect")),
		DialEvents:        dialEvents,
		OnEnd:             campaignCallEnded,
		OnRecorded:        archiver.Notify,
		RecordingFormat:   cfg.RecordingFormat,
		HoldLease:         cfg.AgentLease,
		QueuePoll:         cfg.QueuePoll,
		ReattachWait:      cfg.reattachWait,
		Metrics:           met,
	}, messenger(db, cfg, smsOut, log).WriteThrough(writes), passthru.New(db, passthru.Config{UserAgent: "Switchyard/" + version, HTTPClient: egress, Metrics: met, Writes: writes}, log.With("component", "passthru")), log)
	// Requests calls left running (passthru, messages, first legs) end
	// before the store closes.
	defer waitRequests(runtime, log)
	dial = dialer.New(db, runtime, dialerConfig(cfg, db, self, publicURL, callbacks.Notify, met, log))
	dialCtx, stopDialing := context.WithCancel(nodesCtx)
	dialed := make(chan struct{})
	go func() {
		defer close(dialed)
		dial.Run(dialCtx)
	}()
	defer func() { stopDialing(); <-dialed }()
	peers, err := socketPeers(ctx, cfg.SocketAllow, nodeAddrs, log)
	if err != nil {
		return err
	}
	var sockets *esl.Server
	parked := parking.NewIntake(parking.IntakeConfig{Tag: call.Tag(self.ID), Start: runtime.Parked,
		MaxCalls: cfg.MaxCalls, Others: func() int { return sockets.Live() }, Metrics: met, Logger: log.With("component", "park")})
	sockets = esl.NewServerWith(runtime.Handle, esl.ServerConfig{MaxCalls: cfg.MaxCalls, Others: parked.Live, OnGone: runtime.SocketGone,
		Peers: peers, Metrics: met}, log)
	if park {
		intake.Store(parked)
	}
	// Every instance keeps an eye on each node's owner of parked calls:
	// under -control park to own them or stand by, otherwise to clear an
	// owner that is gone, so that calls do not wait for their fallback.
	advertCtx, stopAdvertising := context.WithCancel(nodesCtx)
	var advertising sync.WaitGroup
	defer func() {
		stopAdvertising()
		advertising.Wait()
	}()
	for _, n := range nodes {
		advertising.Go(func() {
			parking.Advertise(advertCtx, n, parking.AdvertiseConfig{Tag: call.Tag(self.ID), Take: park, Logger: log.With("component", "park")})
		})
	}
	running.Go(func() {
		if err := sockets.Serve(socketL); err != nil {
			log.Error("outbound socket server stopped", "err", err)
		}
	})
	running.Go(func() { checkDownNodes(nodesCtx, sockets, down, log) })
	met.LiveCalls(runtime.Live)

	// Give the nodes a moment to connect before the API takes calls: a
	// call placed before would find no node. A node that stays down is
	// not fatal; the pool skips it until it connects.
	waitCtx, cancelWait := context.WithTimeout(ctx, 5*time.Second)
	for _, n := range nodes {
		if _, err := n.WaitConnected(waitCtx); err != nil {
			log.Warn("node not connected yet; API calls go to the others until it is", "node", n.Name(), "err", err)
		}
	}
	cancelWait()
	reconciler := &call.Reconciler{DB: db, Exists: channelExists(nodes), Live: runtime.Running,
		Self: self, Stale: instanceStale, Terminal: builder.Terminal, Notify: callbacks.Notify, Log: log, Metrics: met}
	running.Go(func() {
		keepInstance(nodesCtx, db, reconciler, callbacks.Rescue, restarted, cfg.nodeReconciled, log)
	})
	running.Go(func() { runtime.KeepHolds(nodesCtx) })
	running.Go(func() { smsOut.Run(nodesCtx) })

	apiOpts.Logger, apiOpts.Database, apiOpts.Version, apiOpts.Store, apiOpts.Calls = log, db, version, db, runtime
	apiOpts.OnCampaignChange, apiOpts.NotifyCallbacks, apiOpts.PublicURL = dial.Notify, callbacks.Notify, publicURL
	apiOpts.Recordings, apiOpts.SMS = blobs, smsOut
	apiOpts.Metrics, apiOpts.Nodes, apiOpts.OpsToken = met, cluster, cfg.OpsToken
	apiOpts.Ready = readiness(runtime, cluster)
	apiOpts.TestCall = consoleTestCalls(nodesCtx, nodes, cfg.FSPassword, cfg.emulatorSpeed)
	if name, _ := cfg.smsProvider(); name == "webhook" && cfg.SMSWebhookReports {
		apiOpts.SMSReports, apiOpts.SMSReportToken = smsOut.Report, cfg.SMSToken
	}
	srv := api.New(apiOpts)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	log.InfoContext(ctx, "switchyard is up", "http", l.Addr().String(), "socket", socketL.Addr().String(),
		"nodes", strings.Join(nodeAddrs, ","), "database", db.Dialect(), "version", version)
	if cfg.ready != nil {
		up := serving{HTTP: l.Addr().String(), Socket: socketL.Addr().String(), Instance: self.ID}
		if emulator != nil {
			up.ESL = emulator.Addr()
		}
		cfg.ready(up)
	}

	var apiErr error
	apiDown := false
	select {
	case apiErr = <-served:
		apiDown = true
		log.Error("API server stopped; shutting down", "err", apiErr)
	case <-ctx.Done():
	}
	log.Info("shutting down: no new calls; waiting for live calls", "live", runtime.Live(), "drain", cfg.Drain)
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Drain)
	defer cancel()
	// The API places no new call from here on (503), the socket takes
	// only the calls placed here (new ones run the node's fallback), and
	// those reach their socket before the listener closes.
	// Campaigns stop dialing first: the lead passes to another instance,
	// and numbers not yet called stay due.
	met.SetDraining(true)
	stopDialing()
	<-dialed
	runtime.StopPlacing()
	sockets.Restrict(runtime.Awaited)
	if cfg.drainStarted != nil {
		cfg.drainStarted()
	}
	// The nodes' new calls stop being parked for this instance: they go
	// to the sockets (another instance's) until a standby takes over.
	stopAdvertising()
	advertising.Wait()
	if park {
		withdraw(drainCtx, nodes, call.Tag(self.ID), log)
	}
	if err := runtime.Drain(drainCtx); err != nil {
		log.Warn("shutdown: placed calls not connected in time", "err", err)
	}
	parkedDone := make(chan error, 1)
	go func() { parkedDone <- parked.Shutdown(drainCtx) }()
	if err := sockets.Shutdown(drainCtx); err != nil {
		log.Warn("shutdown: calls cut", "err", err)
	}
	if err := <-parkedDone; err != nil {
		log.Warn("shutdown: parked calls cut", "err", err)
	}
	stopNodes()
	if apiDown {
		return apiErr
	}
	apiCtx, cancelAPI := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancelAPI()
	if err := srv.Shutdown(apiCtx); err != nil {
		return err
	}
	return <-served
}

// withdraw hands each node's parked calls on (parking.Withdraw), where
// this instance owns them.
func withdraw(ctx context.Context, nodes []*esl.Node, tag string, log *slog.Logger) {
	for _, n := range nodes {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := parking.Withdraw(wctx, n, tag); err != nil {
			log.Warn("park: cannot hand the node's parked calls on; they wait for their fallback", "node", n.Name(), "err", err)
		}
		cancel()
	}
}

// dialerConfig configures the campaign dialer of this instance. With a
// faster emulator (tests), campaigns run on its clock.
func dialerConfig(cfg Config, db *store.DB, self store.Instance, publicURL string, notify func(), met *metrics.Set, log *slog.Logger) dialer.Config {
	dc := dialer.Config{
		Instance: self.ID,
		Dead: func(ctx context.Context) ([]string, error) {
			now := time.Now()
			return db.Instances().Dead(ctx, self, now.Add(-instanceStale), now.Add(-instanceRescue))
		},
		Callbacks:       campaign.Callbacks{PublicURL: strings.TrimRight(publicURL, "/")},
		NotifyCallbacks: notify,
		Metrics:         met,
		Logger:          log,
	}
	if len(cfg.nodes()) == 0 && cfg.emulatorSpeed > 1 {
		start, speed := time.Now(), cfg.emulatorSpeed
		dc.Now = func() time.Time { return start.Add(time.Duration(float64(time.Since(start)) * speed)) }
		dc.Speed = speed
	}
	return dc
}

// waitRequests waits, for a bounded time, for the requests calls left
// running.
func waitRequests(rt *call.Runtime, log *slog.Logger) {
	done := make(chan struct{})
	go func() {
		rt.Wait()
		close(done)
	}()
	t := time.NewTimer(15 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		log.Warn("shutdown: requests of ended calls still running; leaving them")
	}
}

// messenger sends the SMS and email applets' messages; SMS go through
// the same sender as the API's.
func messenger(db *store.DB, cfg Config, smsSender *sms.Sender, log *slog.Logger) *notify.Messenger {
	var email notify.EmailSender
	if cfg.SMTPAddr != "" {
		policy, _ := notify.ParseStartTLSPolicy(cfg.SMTPStartTLS) // validated with the config
		email = &notify.SMTPSender{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom, Username: cfg.SMTPUser,
			Password: cfg.SMTPPassword, StartTLS: policy}
	}
	return notify.New(db, email, smsSender, log.With("component", "messages"))
}

// smsSender makes the SMS sender of the configured provider (validated
// with the config); close releases the provider (the SMPP link) once the
// sender's worker has stopped.
func smsSender(db *store.DB, cfg Config, notifyCallbacks func(), log *slog.Logger) (s *sms.Sender, closeFn func(), err error) {
	name, err := cfg.smsProvider()
	if err != nil {
		return nil, nil, err
	}
	log = log.With("component", "sms")
	var provider sms.Provider = sms.TestNetwork{}
	closeFn = func() {}
	switch name {
	case "webhook":
		provider = &sms.Webhook{URL: cfg.SMSWebhook, Token: cfg.SMSToken, Reports: cfg.SMSWebhookReports}
	case "smpp":
		p := sms.NewSMPP(sms.SMPPConfig{Addr: cfg.SMPPAddr, SystemID: cfg.SMPPSystemID, Password: cfg.SMPPPassword,
			SystemType: cfg.SMPPSystemType, Log: log})
		provider, closeFn = p, func() {
			if err := p.Close(); err != nil {
				log.Warn("sms: smpp close", "err", err)
			}
		}
	}
	s, err = sms.New(db, sms.Config{Provider: provider, NotifyCallbacks: notifyCallbacks}, log)
	if err != nil {
		return nil, nil, fmt.Errorf("sms: %w", err)
	}
	log.Info("sms: provider", "provider", provider.Name())
	return s, closeFn, nil
}

// channelExists asks every node whether a channel is up.
func channelExists(nodes []*esl.Node) call.Exists {
	return func(ctx context.Context, uuid string) (bool, error) {
		for _, n := range nodes {
			out, err := n.API(ctx, "uuid_exists "+uuid)
			if err != nil {
				return false, fmt.Errorf("node %s: %w", n.Name(), err)
			}
			if strings.TrimSpace(out) == "true" {
				return true, nil
			}
		}
		return false, nil
	}
}

// openDB opens the configured database, creating a SQLite file's folder.
func openDB(ctx context.Context, cfg Config, log *slog.Logger) (*store.DB, error) {
	if path, ok := sqlitePath(cfg.Database); ok {
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("database folder: %w", err)
			}
		}
	}
	db, err := store.Open(ctx, cfg.Database, log)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// sqlitePath returns the file behind a SQLite DSN, if it names one.
func sqlitePath(dsn string) (string, bool) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"),
		strings.Contains(dsn, ":memory:"), strings.HasPrefix(dsn, "file:"):
		return "", false
	case strings.HasPrefix(dsn, "sqlite:"):
		return strings.TrimPrefix(dsn, "sqlite:"), true
	}
	return dsn, true
}

func printDemo(w io.Writer, cfg Config, t *demo.Tenant) {
	fmt.Fprintf(w, `
  Switchyard demo tenant (public credentials: local use only)
    Account SID  %s
    API key      %s
    API token    %s
    API          http://%s
    Console      http://%s/console/ (sign in with the API key and token)
    Legacy auth  %s:%s (clients that send the account SID as the user)
`, t.AccountSID, t.APIKey, t.APIToken, cfg.HTTPAddr, cfg.HTTPAddr, t.AccountSID, t.APIToken)
	if t.KeyRevoked {
		fmt.Fprintf(w, "    NOTE         the demo API key %s is revoked and stays revoked; use another key of account %s\n",
			t.APIKey, t.AccountSID)
	}
	for _, n := range t.Numbers {
		fmt.Fprintf(w, "    ExoPhone     %s -> %s (flow %s)\n", n.Number, n.Flow, n.FlowID)
	}
	if t.CampaignSID != "" {
		fmt.Fprintf(w, "    Campaign     %s calls list %s (switchyard campaign show %s --follow)\n", t.CampaignSID, t.ListSID, t.CampaignSID)
	}
	fmt.Fprintln(w)
}

// flagErr passes -h through and marks other flag errors as usage errors
// (the flag package has already printed them).
func flagErr(err error) error {
	if errors.Is(err, errHelp) {
		return err
	}
	if strings.HasPrefix(err.Error(), "flag provided but not defined") || strings.HasPrefix(err.Error(), "invalid ") {
		return errUsage
	}
	return err
}
