package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/dialstr"
	"github.com/switchyard/switchyard/orchestrator/store"
)

const campaignUsage = `Usage:
  switchyard campaign create --account SID --caller-id EXOPHONE (--flow FLOWID | --url URL)
        (--numbers N,... | --list LISTSID ... | --csv FILE) [flags]
      create an outbound campaign; prints its id and a summary
  switchyard campaign list --account SID [--status S,...] [--parent ID] [flags]
      the account's campaigns with their stats
  switchyard campaign show ID [--follow] [flags]
      a campaign's fields and stats; --follow redraws its progress every second until it ends
  switchyard campaign pause|resume|complete|archive ID [flags]
      change a campaign's status (complete: from Paused; the numbers not called end failed-no-attempt)
  switchyard campaign report ID [--csv] [flags]
      the calls a campaign placed, as a table or CSV

These work on the database (-db or SWITCHYARD_DB) directly: a running
serve picks up a new campaign or a change within a second. Times are in
UTC. Run "switchyard campaign create -h" for the flags.
`

const dndUsage = `Usage:
  switchyard dnd add --account SID [--reason TEXT] NUMBER...
  switchyard dnd list --account SID
  switchyard dnd remove --account SID NUMBER...

The do-not-call list: campaigns of the account never call these numbers
(their status becomes failed-dnd). Calls placed through the call APIs
are not affected.
`

// errReported: the command has printed what was wrong with its input
// (exit status 1, nothing more to print).
var errReported = errors.New("reported")

// campaignCommand is "switchyard campaign".
func campaignCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, campaignUsage)
		return errUsage
	}
	switch args[0] {
	case "create":
		return campaignCreate(ctx, args[1:], stdout, stderr)
	case "list":
		return campaignList(ctx, args[1:], stdout, stderr)
	case "show":
		return campaignShow(ctx, args[1:], stdout, stderr)
	case store.ActionPause, store.ActionResume, store.ActionComplete, store.ActionArchive:
		return campaignAct(ctx, args[0], args[1:], stdout, stderr)
	case "report":
		return campaignReport(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, campaignUsage)
		return nil
	}
	fmt.Fprint(stderr, campaignUsage)
	return errUsage
}

// cmdLine is a parsed subcommand: the configuration, its flag set and
// positional arguments.
type cmdLine struct {
	cfg Config
	fs  *flag.FlagSet
	pos []string
}

// parseCmd parses a subcommand's flags (the common ones and those declare
// adds), flags and positional arguments in any order.
func parseCmd(name, synopsis string, args []string, stderr io.Writer, declare func(fs *flag.FlagSet)) (*cmdLine, error) {
	cl := &cmdLine{cfg: defaultConfig(), fs: newFlagSet(name, synopsis, stderr)}
	declare(cl.fs)
	pos, err := parseAccountFlags(&cl.cfg, cl.fs, args)
	if err != nil {
		return nil, err
	}
	cl.pos = pos
	return cl, nil
}

// usage reports a command-line mistake (exit status 2).
func (cl *cmdLine) usage(format string, args ...any) error {
	return accountUsageErr(cl.fs, cl.fs.Output(), fmt.Sprintf(format, args...))
}

// set reports which flags were given.
func (cl *cmdLine) set() map[string]bool {
	m := map[string]bool{}
	cl.fs.Visit(func(f *flag.Flag) { m[f.Name] = true })
	return m
}

// open opens and migrates the database and, if account is not empty,
// checks that it exists.
func (cl *cmdLine) open(ctx context.Context, account string) (*store.DB, error) {
	db, err := openAccountDB(ctx, cl.cfg, cl.fs.Output())
	if err != nil {
		return nil, err
	}
	if account != "" {
		if err := accountOf(ctx, db, account); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// createFlags are campaign create's flags.
type createFlags struct {
	account, name, callerID, flow, url, csv string
	numbers, lists, retryOn                 listFlag
	sendAt, endAt, recurrence, timezone     string
	throttle, maxConcurrent                 int
	window                                  string
	retries, retryInterval                  int
	retryMechanism                          string
	statusCB, callStatusCB, callScheduleCB  string
	duplicates                              bool
}

func (o *createFlags) declare(fs *flag.FlagSet) {
	fs.StringVar(&o.account, "account", "", "the account SID (required)")
	fs.StringVar(&o.name, "name", "", "the campaign's name, more than 3 characters (default: the account and the time)")
	fs.StringVar(&o.callerID, "caller-id", "", "the ExoPhone the campaign calls from (required)")
	fs.StringVar(&o.flow, "flow", "", "the id of the published flow each answered call runs (or --url)")
	fs.StringVar(&o.url, "url", "", "the flow's URL, http(s)://<host>/<account>/exoml/start_voice/<flow id> (or --flow)")
	fs.Var(&o.numbers, "numbers", "numbers to call, comma-separated (repeatable)")
	fs.Var(&o.lists, "list", "a contact list SID to call (repeatable, at most 5)")
	fs.StringVar(&o.csv, "csv", "", "a CSV file of contacts with a header row (number, first_name, last_name, company_name, email, tag, timezone; other columns are custom fields): made into a new list the campaign calls")
	fs.StringVar(&o.sendAt, "send-at", "", "when to start, such as 2026-01-14T10:00:00+05:30 (default: at once)")
	fs.StringVar(&o.endAt, "end-at", "", "when to stop dialing even if numbers are left (default: 30 days after the start)")
	fs.StringVar(&o.recurrence, "recurrence", "", `a cron expression such as "0 10 * * 1-5": each time it fires, a run of the campaign starts`)
	fs.StringVar(&o.timezone, "timezone", "", "IANA zone of the recurrence and of contacts without one (default Asia/Kolkata)")
	fs.IntVar(&o.throttle, "throttle", 0, "calls per minute (default: the account's rate)")
	fs.IntVar(&o.maxConcurrent, "max-concurrent", 0, "live calls at most (default: the account's cap)")
	fs.StringVar(&o.window, "window", "", "local hours numbers may be called, HH:MM-HH:MM in each contact's zone (default 09:00-21:00; 00:00-24:00 for any time)")
	fs.IntVar(&o.retries, "retries", 0, "calls again a number whose call was busy, not answered or failed, up to this many times (0 to 3)")
	fs.IntVar(&o.retryInterval, "retry-interval", 0, "minutes between a number's calls (required with --retries)")
	fs.StringVar(&o.retryMechanism, "retry-mechanism", "", "Linear (every interval) or Exponential (the interval doubles)")
	fs.Var(&o.retryOn, "retry-on", "outcomes retried, comma-separated: busy, no-answer, failed (default: all three)")
	fs.StringVar(&o.statusCB, "status-callback", "", "URL told when the campaign starts and ends")
	fs.StringVar(&o.callStatusCB, "call-status-callback", "", "URL told the outcome of every call")
	fs.StringVar(&o.callScheduleCB, "call-schedule-callback", "", "URL told when a number is done (after its retries)")
	fs.BoolVar(&o.duplicates, "duplicates", false, "call a number as often as it is given (default: once)")
}

// spec turns the flags into the API's request, so that Build applies the
// same rules to both; set names the flags given.
func (o *createFlags) spec(set map[string]bool) (campaign.Spec, error) {
	var s campaign.Spec
	str := func(flagName string, v string) *string {
		if !set[flagName] {
			return nil
		}
		return &v
	}
	num := func(flagName string, v int) *int {
		if !set[flagName] {
			return nil
		}
		return &v
	}
	s.Name = str("name", o.name)
	s.CallerID = &o.callerID
	u := o.url
	if o.flow != "" {
		u = fmt.Sprintf("http://localhost/%s/exoml/start_voice/%s", url.PathEscape(o.account), url.PathEscape(o.flow))
	}
	s.URL = &u
	if len(o.numbers) > 0 {
		raw, err := json.Marshal([]string(o.numbers))
		if err != nil {
			return s, fmt.Errorf("numbers: %w", err)
		}
		s.From = raw
	}
	if len(o.lists) > 0 {
		lists := slices.Clone([]string(o.lists))
		s.Lists = &lists
	}
	if o.sendAt != "" || o.endAt != "" || o.recurrence != "" {
		s.Schedule = &campaign.ScheduleSpec{SendAt: o.sendAt, EndAt: o.endAt, Recurrence: o.recurrence}
	}
	s.Timezone = str("timezone", o.timezone)
	s.Throttle = num("throttle", o.throttle)
	s.MaxConcurrent = num("max-concurrent", o.maxConcurrent)
	if set["window"] {
		start, end, ok := strings.Cut(o.window, "-")
		if !ok {
			return s, &campaign.FieldError{Field: "calling_window", Message: fmt.Sprintf("--window %q: give the hours as HH:MM-HH:MM, such as 09:00-21:00", o.window)}
		}
		s.CallingWindow = &campaign.WindowSpec{Start: strings.TrimSpace(start), End: strings.TrimSpace(end)}
	}
	if set["retries"] || set["retry-interval"] || set["retry-mechanism"] || set["retry-on"] {
		s.Retries = &campaign.RetrySpec{NumberOfRetries: num("retries", o.retries), IntervalMins: num("retry-interval", o.retryInterval),
			Mechanism: o.retryMechanism, OnStatus: o.retryOn}
	}
	s.StatusCallback = str("status-callback", o.statusCB)
	s.CallStatusCallback = str("call-status-callback", o.callStatusCB)
	s.CallScheduleCallback = str("call-schedule-callback", o.callScheduleCB)
	if set["duplicates"] {
		s.CallDuplicateNumbers = &o.duplicates
	}
	return s, nil
}

func campaignCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o createFlags
	cl, err := parseCmd("campaign create", "campaign create --account SID --caller-id EXOPHONE (--flow FLOWID | --url URL) (--numbers N,... | --list LISTSID | --csv FILE) [flags]",
		args, stderr, o.declare)
	if err != nil {
		return err
	}
	switch {
	case len(cl.pos) > 0:
		return cl.usage("unexpected argument %q", cl.pos[0])
	case o.account == "":
		return cl.usage("--account is required")
	case strings.TrimSpace(o.callerID) == "":
		return cl.usage("--caller-id is required: the ExoPhone the campaign calls from")
	case (o.flow == "") == (o.url == ""):
		return cl.usage("give the flow the calls run: --flow FLOWID or --url URL (one of them)")
	case len(o.numbers) == 0 && len(o.lists) == 0 && o.csv == "":
		return cl.usage("give the numbers to call: --numbers, --list or --csv")
	}
	fieldErr := func(err error) error {
		var fe *campaign.FieldError
		if errors.As(err, &fe) {
			fmt.Fprintf(stderr, "switchyard campaign create: %s: %s\n", fe.Field, fe.Message)
			return errReported
		}
		return err
	}
	spec, err := o.spec(cl.set())
	if err != nil {
		return fieldErr(err)
	}
	var contacts []store.Contact
	if o.csv != "" {
		if contacts, err = readContactsFile(o.csv); err != nil {
			return fieldErr(err)
		}
	}
	db, err := cl.open(ctx, o.account)
	if err != nil {
		return err
	}
	defer db.Close()

	var (
		c    *store.Campaign
		list *store.List
	)
	err = db.InTx(ctx, func(tx *store.DB) error {
		if contacts != nil {
			name, err := freeListName(ctx, tx, o.account, strings.TrimSuffix(filepath.Base(o.csv), filepath.Ext(o.csv)))
			if err != nil {
				return err
			}
			if list, err = tx.Lists().Create(ctx, o.account, name, ""); err != nil {
				return fmt.Errorf("list from %s: %w", o.csv, err)
			}
			if _, err := tx.Lists().Import(ctx, o.account, list.SID, contacts); err != nil {
				return fmt.Errorf("contacts from %s: %w", o.csv, err)
			}
			lists := append(slices.Clone([]string(o.lists)), list.SID)
			spec.Lists = &lists
		}
		var err error
		if c, err = campaign.Build(ctx, campaign.StoreLookup(tx), o.account, spec, time.Now()); err != nil {
			return err
		}
		return tx.Campaigns().Create(ctx, c)
	})
	if err != nil {
		return fieldErr(err)
	}
	limits, err := dialLimits(ctx, db, c.AccountSID)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, c.SID)
	if list != nil {
		fmt.Fprintf(stdout, "List %s %q: %d contacts from %s\n", list.SID, list.Name, len(contacts), o.csv)
	}
	fmt.Fprintf(stdout, "Created %q: %s\n", c.Name, createSummary(c, limits))
	return nil
}

// createSummary says in one line what a new campaign will do.
func createSummary(c *store.Campaign, limits store.DialLimits) string {
	var parts []string
	var whom []string
	if n := len(c.Numbers); n > 0 {
		whom = append(whom, plural(n, "number"))
	}
	if n := len(c.Lists); n > 0 {
		whom = append(whom, plural(n, "list")+" ("+strings.Join(c.Lists, ", ")+")")
	}
	parts = append(parts, "calls "+strings.Join(whom, " and ")+" from "+c.CallerID+", flow "+c.FlowID)
	parts = append(parts, scheduleText(c))
	pacing := throttleText(c.Throttle, limits.Rate)
	if c.MaxConcurrent > 0 {
		pacing += fmt.Sprintf(", at most %d live", c.MaxConcurrent)
	}
	parts = append(parts, pacing)
	if r := retriesText(c.Retries); r != "" {
		parts = append(parts, r)
	}
	return strings.Join(parts, "; ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// scheduleText says when a campaign dials.
func scheduleText(c *store.Campaign) string {
	var s string
	switch {
	case c.Recurrence != "":
		s = fmt.Sprintf("runs at %q (%s)", c.Recurrence, zoneName(c.Timezone))
		if c.NextRunAt != nil {
			s += ", next " + utcTime(*c.NextRunAt)
		}
	case c.SendAt != nil:
		s = "starts " + utcTime(*c.SendAt)
	default:
		s = "starts at once"
	}
	if c.EndAt != nil {
		s += ", until " + utcTime(*c.EndAt)
	}
	return s
}

// throttleText says how fast a campaign dials: its throttle, or the
// account's rate if it has none.
func throttleText(throttle, accountRate int) string {
	if throttle > 0 {
		return fmt.Sprintf("%d calls/min", throttle)
	}
	return fmt.Sprintf("%d calls/min (the account's)", accountRate)
}

// retriesText says how a campaign retries ("" for not at all).
func retriesText(p store.RetryPolicy) string {
	if p.NumberOfRetries == 0 {
		return ""
	}
	on := strings.Join(p.OnStatus, ", ")
	if on == "" {
		on = strings.Join(campaign.RetryStatuses, ", ")
	}
	s := fmt.Sprintf("1 retry after %d min", p.IntervalMins)
	switch {
	case p.NumberOfRetries > 1 && p.Mechanism == campaign.Exponential:
		s = fmt.Sprintf("%d retries after %d min, the wait doubling", p.NumberOfRetries, p.IntervalMins)
	case p.NumberOfRetries > 1:
		s = fmt.Sprintf("%d retries %d min apart", p.NumberOfRetries, p.IntervalMins)
	}
	return s + " on " + on
}

func zoneName(tz string) string {
	if tz == "" {
		return campaign.DefaultZone
	}
	return tz
}

func utcTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") + " UTC" }

// freeListName returns base, or base with a number after it, whichever
// the account does not use yet (a list name is unique per account).
func freeListName(ctx context.Context, db *store.DB, account, base string) (string, error) {
	if strings.TrimSpace(base) == "" {
		base = "contacts"
	}
	ls, _, err := db.Lists().List(ctx, account, store.ListFilter{Page: store.Page{Limit: 1000}, Name: base})
	if err != nil {
		return "", fmt.Errorf("lists: %w", err)
	}
	taken := map[string]bool{}
	for _, l := range ls {
		taken[l.Name] = true
	}
	name := base
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s (%d)", base, i)
	}
	return name, nil
}

func readContactsFile(path string) ([]store.Contact, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &campaign.FieldError{Field: "csv", Message: err.Error()}
	}
	defer f.Close()
	return readContacts(f, filepath.Base(path))
}

// readContacts reads contacts from CSV (campaign.ReadContactsCSV). A
// number may be written with spaces, dashes, dots or brackets. Every
// problem is a *campaign.FieldError naming the line.
func readContacts(r io.Reader, name string) ([]store.Contact, error) {
	bad := func(format string, args ...any) error {
		return &campaign.FieldError{Field: "csv", Message: name + ": " + fmt.Sprintf(format, args...)}
	}
	var out []store.Contact
	err := campaign.ReadContactsCSV(r, func(line int, ct store.Contact, fields, columns int) error {
		number := contactNumber(ct.Number)
		if fields != columns {
			return bad("line %d: the row has %d fields, the header %d", line, fields, columns)
		}
		if !dialstr.Contact(number) {
			return bad("line %d: %q is not a phone number (+ and 3 to 15 digits) or a sip: URI", line, ct.Number)
		}
		if ct.Timezone != "" {
			if _, err := campaign.Zone(ct.Timezone); err != nil {
				return bad("line %d: timezone %q is not an IANA time zone such as Asia/Kolkata", line, ct.Timezone)
			}
		}
		ct.Number = number
		out = append(out, ct)
		if len(out) > store.MaxListContacts {
			return bad("more contacts than a list takes (%d)", store.MaxListContacts)
		}
		return nil
	})
	var fe *campaign.FieldError
	switch {
	case errors.As(err, &fe):
		return nil, err
	case err != nil:
		return nil, bad("%v", err)
	case len(out) == 0:
		return nil, bad("no contacts below the header row")
	}
	return out, nil
}

// contactNumber is a CSV number as dialed: a number's spaces, dashes,
// dots and brackets taken out; a SIP URI as it is.
func contactNumber(s string) string {
	if strings.Contains(s, ":") {
		return dialstr.Normalize(s)
	}
	return strings.NewReplacer(" ", "", "-", "", ".", "", "(", "", ")", "").Replace(s)
}

// allPages reads every page of a listing.
func allPages[T any](read func(store.Page) ([]T, int, error)) ([]T, error) {
	var out []T
	for {
		page, total, err := read(store.Page{Limit: 1000, Offset: len(out)})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) == 0 || len(out) >= total {
			return out, nil
		}
	}
}

var campaignStatuses = []string{store.CampaignCreated, store.CampaignInProgress, store.CampaignPaused, store.CampaignCompleted,
	store.CampaignFailed, store.CampaignCanceled, store.CampaignDeleted, store.CampaignArchived}

func campaignList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var account, parent string
	var statuses listFlag
	cl, err := parseCmd("campaign list", "campaign list --account SID [--status S,...] [--parent ID] [flags]", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&account, "account", "", "the account SID (required)")
		fs.Var(&statuses, "status", "only campaigns in these statuses, comma-separated: "+strings.Join(campaignStatuses, ", "))
		fs.StringVar(&parent, "parent", "", "only the runs of this recurring campaign")
	})
	if err != nil {
		return err
	}
	switch {
	case len(cl.pos) > 0:
		return cl.usage("unexpected argument %q", cl.pos[0])
	case account == "":
		return cl.usage("--account is required")
	}
	for i, s := range statuses {
		j := slices.IndexFunc(campaignStatuses, func(k string) bool { return strings.EqualFold(k, s) })
		if j < 0 {
			return cl.usage("--status %q: use %s", s, strings.Join(campaignStatuses, ", "))
		}
		statuses[i] = campaignStatuses[j]
	}
	db, err := cl.open(ctx, account)
	if err != nil {
		return err
	}
	defer db.Close()
	cs, err := allPages(func(p store.Page) ([]store.Campaign, int, error) {
		return db.Campaigns().List(ctx, account, store.CampaignFilter{Page: p, Statuses: statuses, Parent: parent})
	})
	if err != nil {
		return fmt.Errorf("list campaigns: %w", err)
	}
	stats, err := db.Campaigns().Stats(ctx, cs)
	if err != nil {
		return fmt.Errorf("campaign stats: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tCREATED\tPENDING\tIN-PROGRESS\tCOMPLETED\tFAILED\tSCHEDULE")
	for i := range cs {
		c, st := &cs[i], stats[cs[i].SID]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", c.SID, c.Name, c.Status,
			st["created"], st["pending"], st["in-progress"], st["completed"], st["failed"], scheduleText(c))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s; the counts are the numbers' stats\n", plural(len(cs), "campaign"))
	return nil
}

// findCampaign returns a campaign by SID (of account, if not empty); a
// deleted one does not exist.
func findCampaign(ctx context.Context, db *store.DB, account, sid string) (*store.Campaign, error) {
	c, err := db.Campaigns().BySID(ctx, sid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("campaign %s does not exist", sid)
	case err != nil:
		return nil, fmt.Errorf("campaign %s: %w", sid, err)
	case c.Status == store.CampaignDeleted || (account != "" && c.AccountSID != account):
		return nil, fmt.Errorf("campaign %s does not exist", sid)
	}
	return c, nil
}

// openCampaign parses a subcommand taking one campaign ID (and an
// optional --account it must belong to), opens the database and finds
// the campaign.
func openCampaign(ctx context.Context, name, synopsis string, args []string, stderr io.Writer, declare func(fs *flag.FlagSet)) (*cmdLine, *store.DB, *store.Campaign, error) {
	var account string
	cl, err := parseCmd(name, synopsis, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&account, "account", "", "the account the campaign must belong to (optional)")
		if declare != nil {
			declare(fs)
		}
	})
	if err != nil {
		return nil, nil, nil, err
	}
	if len(cl.pos) != 1 {
		return nil, nil, nil, cl.usage("give exactly one campaign ID")
	}
	db, err := cl.open(ctx, "")
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := findCampaign(ctx, db, account, cl.pos[0])
	if err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	return cl, db, c, nil
}

// followTicker makes the clock of campaign show --follow: a tick a
// second, and its stop. Tests replace it with a channel they drive.
var followTicker = func() (<-chan time.Time, func()) {
	t := time.NewTicker(time.Second)
	return t.C, t.Stop
}

func campaignShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var follow bool
	cl, db, c, err := openCampaign(ctx, "campaign show", "campaign show ID [--follow] [flags]", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&follow, "follow", false, "redraw the campaign's progress every second until it ends (Ctrl-C stops)")
	})
	if err != nil {
		return err
	}
	defer db.Close()
	limits, err := dialLimits(ctx, db, c.AccountSID)
	if err != nil {
		return err
	}
	if err := printCampaign(ctx, db, stdout, c, limits); err != nil {
		return err
	}
	if !follow {
		return nil
	}
	fmt.Fprintln(stdout)
	ticks, stop := followTicker()
	defer stop()
	return followCampaign(ctx, db, stdout, isTerminal(stdout), c, limits, ticks, cl.cfg.logger(stderr))
}

func dialLimits(ctx context.Context, db *store.DB, account string) (store.DialLimits, error) {
	m, err := db.Accounts().DialLimits(ctx, []string{account})
	if err != nil {
		return store.DialLimits{}, fmt.Errorf("dialing limits of %s: %w", account, err)
	}
	return m[account], nil
}

// printCampaign writes a campaign's fields and stats.
func printCampaign(ctx context.Context, db *store.DB, w io.Writer, c *store.Campaign, limits store.DialLimits) error {
	stats, err := db.Campaigns().Stats(ctx, []store.Campaign{*c})
	if err != nil {
		return fmt.Errorf("campaign stats: %w", err)
	}
	orNone := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	ts := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return utcTime(*t)
	}
	window := "09:00-21:00 (default)"
	if c.WindowStart != "" {
		window = c.WindowStart + "-" + c.WindowEnd
	}
	concurrency := fmt.Sprintf("%d (the account's)", limits.Concurrency)
	if c.MaxConcurrent > 0 {
		concurrency = fmt.Sprint(c.MaxConcurrent)
	}
	duplicates := "called once"
	if c.CallDuplicateNumbers {
		duplicates = "called as often as given"
	}
	numbers := fmt.Sprint(len(c.Numbers))
	if c.Skipped > 0 {
		numbers += fmt.Sprintf(" (%d duplicates skipped)", c.Skipped)
	}
	fmt.Fprintf(w, "Campaign %s (account %s)\n", c.SID, c.AccountSID)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rows := [][2]string{
		{"Name", c.Name}, {"Status", c.Status}, {"Caller ID", c.CallerID}, {"Flow", c.FlowID + "  " + c.URL},
		{"Numbers", numbers}, {"Lists", orNone(strings.Join(c.Lists, ", "))},
		{"Schedule", scheduleText(c)}, {"Timezone", zoneName(c.Timezone)}, {"Calling window", window},
		{"Throttle", throttleText(c.Throttle, limits.Rate)}, {"Max concurrent", concurrency},
		{"Retries", orNone(retriesText(c.Retries))}, {"Duplicates", duplicates},
		{"Status callback", orNone(c.StatusCallback)}, {"Call status callback", orNone(c.CallStatusCallback)},
		{"Call schedule callback", orNone(c.CallScheduleCallback)},
		{"Created", ts(&c.CreatedAt)}, {"Started", ts(c.DateStarted)}, {"Ended", ts(c.DateEnded)},
	}
	if c.ParentSID != "" {
		rows = append(rows, [2]string{"Run", fmt.Sprintf("%d of recurring campaign %s", c.Run, c.ParentSID)})
	}
	if c.Recurrence != "" {
		rows = append(rows, [2]string{"Runs", fmt.Sprintf("%d so far (campaign list --account %s --parent %s)", c.Run, c.AccountSID, c.SID)})
	}
	for _, kv := range rows {
		fmt.Fprintf(tw, "  %s\t%s\n", kv[0], kv[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "Stats:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	st := stats[c.SID]
	for _, k := range store.StatsKeys {
		fmt.Fprintf(tw, "  %s\t%d\n", k, st[k])
	}
	return tw.Flush()
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// followCampaign draws c's progress now and at every tick until the
// campaign is no longer open or ctx ends. On a terminal it redraws one
// line in place; otherwise it writes a line per tick. A failed read is
// logged and tried again at the next tick.
func followCampaign(ctx context.Context, db *store.DB, w io.Writer, tty bool, c *store.Campaign, limits store.DialLimits,
	ticks <-chan time.Time, log *slog.Logger) error {
	draw := func(at time.Time) (*store.Campaign, error) {
		cur, err := db.Campaigns().BySID(ctx, c.SID)
		if err != nil {
			return nil, err
		}
		p, err := db.Campaigns().Progress(ctx, cur, at)
		if err != nil {
			return nil, err
		}
		line := progressLine(cur, p, limits)
		if tty {
			_, err = fmt.Fprintf(w, "\r\x1b[2K%s", line)
		} else {
			_, err = fmt.Fprintln(w, line)
		}
		return cur, err
	}
	end := func(cur *store.Campaign) error {
		if tty {
			fmt.Fprintln(w)
		}
		if cur != nil {
			fmt.Fprintf(w, "Campaign %s is %s.\n", cur.SID, cur.Status)
		}
		return nil
	}
	cur, err := draw(time.Now())
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("campaign %s: %w", c.SID, err)
	}
	for cur.Open() {
		select {
		case <-ctx.Done():
			return end(nil)
		case at, ok := <-ticks:
			if !ok {
				return end(nil)
			}
			next, err := draw(at)
			switch {
			case err != nil && ctx.Err() != nil:
				return end(nil)
			case err != nil:
				log.WarnContext(ctx, "campaign progress: read failed; trying again", "campaign", c.SID, "err", err)
			default:
				cur = next
			}
		}
	}
	return end(cur)
}

// progressLine is one frame of the follow view.
func progressLine(c *store.Campaign, p *store.Progress, limits store.DialLimits) string {
	const width = 24
	throttle := c.Throttle
	if throttle == 0 {
		throttle = limits.Rate
	}
	switch {
	case c.Recurrence != "":
		next := "none"
		if c.NextRunAt != nil {
			next = utcTime(*c.NextRunAt)
		}
		return fmt.Sprintf("recurring: %s so far, next %s (its runs: campaign list --account %s --parent %s)  %s",
			plural(c.Run, "run"), next, c.AccountSID, c.SID, c.Status)
	case c.DateStarted == nil && c.Open():
		return fmt.Sprintf("not started: %s  throttle %d/min  %s", scheduleText(c), throttle, c.Status)
	}
	st := p.Stats
	total := st["created"]
	open := st["pending"] + st["retry"] + st["paused"] + st["in-progress"] + st["retrying"]
	done := total - open
	filled := 0
	if total > 0 {
		filled = done * width / total
	}
	bar := "[" + strings.Repeat("#", filled) + strings.Repeat("-", width-filled) + "]"
	return fmt.Sprintf("%s %d/%d  dialed %d  answered %d  failed %d  remaining %d  rate %d/min  throttle %d/min  %s",
		bar, done, total, p.Dialed, p.Answered, done-st["completed"], open, p.LastMinute, throttle, c.Status)
}

func campaignAct(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	_, db, c, err := openCampaign(ctx, "campaign "+action, "campaign "+action+" ID [flags]", args, stderr, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	var end store.CampaignOutbox
	if action == store.ActionComplete {
		end = campaign.Callbacks{}.Ended
	}
	c, err = db.Campaigns().Act(ctx, c.AccountSID, c.SID, action, end)
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	fmt.Fprintf(stdout, "Campaign %s is %s.\n", c.SID, c.Status)
	return nil
}

func campaignReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asCSV bool
	_, db, c, err := openCampaign(ctx, "campaign report", "campaign report ID [--csv] [flags]", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asCSV, "csv", false, "write CSV, as the API's call-details.csv, instead of a table")
	})
	if err != nil {
		return err
	}
	defer db.Close()
	rows, _, err := db.Campaigns().Report(ctx, c.AccountSID, c.SID, store.ReportFilter{All: true})
	if err != nil {
		return fmt.Errorf("report of %s: %w", c.SID, err)
	}
	for i := range rows {
		r := &rows[i]
		if r.Status == store.AttemptDialing {
			r.Status = "in-progress"
		}
		if r.CallerID == "" {
			r.CallerID = c.CallerID
		}
	}
	if asCSV {
		return writeReportCSV(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLACED\tNUMBER\tNAME\tATTEMPT\tSTATUS\tDURATION\tDIGITS\tCALL SID")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d s\t%s\t%s\n", r.CreatedAt.UTC().Format(time.DateTime), r.Number, r.Name, r.Attempt,
			r.Status, r.Duration, r.Digits, r.CallSID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s, times in UTC\n", plural(len(rows), "call"))
	return nil
}

// writeReportCSV writes a campaign's calls as the API's call-details.csv
// does: the same columns, times in RFC 3339 in IST, and a name a
// spreadsheet would take for a formula kept as text behind a '.
func writeReportCSV(w io.Writer, rows []store.ReportRow) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"number", "name", "duration", "status", "digits", "recording_url", "start_time",
		"end_time", "caller_id", "direction", "call_sid", "date_created", "attempt"})
	opt := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return campaign.Time(*t)
	}
	for _, r := range rows {
		name := r.Name
		if name != "" && strings.ContainsRune("=+-@\t\r", rune(name[0])) {
			name = "'" + name
		}
		_ = cw.Write([]string{r.Number, name, fmt.Sprint(r.Duration), r.Status, r.Digits, r.RecordingURL,
			opt(r.StartTime), opt(r.EndTime), r.CallerID, "Outgoing", r.CallSID, campaign.Time(r.CreatedAt), fmt.Sprint(r.Attempt)})
	}
	cw.Flush()
	return cw.Error()
}

// dndCommand is "switchyard dnd": an account's do-not-call list.
func dndCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, dndUsage)
		return errUsage
	}
	verb := args[0]
	switch verb {
	case "add", "list", "remove":
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, dndUsage)
		return nil
	default:
		fmt.Fprint(stderr, dndUsage)
		return errUsage
	}
	var account, reason string
	synopsis := "dnd " + verb + " --account SID NUMBER... [flags]"
	if verb == "list" {
		synopsis = "dnd list --account SID [flags]"
	}
	cl, err := parseCmd("dnd "+verb, synopsis, args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&account, "account", "", "the account SID (required)")
		if verb == "add" {
			fs.StringVar(&reason, "reason", "", "why the numbers must not be called")
		}
	})
	if err != nil {
		return err
	}
	switch {
	case account == "":
		return cl.usage("--account is required")
	case verb == "list" && len(cl.pos) > 0:
		return cl.usage("unexpected argument %q", cl.pos[0])
	case verb != "list" && len(cl.pos) == 0:
		return cl.usage("give the numbers to %s", verb)
	}
	for _, n := range cl.pos {
		if _, ok := store.ContactKey(n); !ok {
			return fmt.Errorf("%q is not a phone number or sip: URI", n)
		}
	}
	db, err := cl.open(ctx, account)
	if err != nil {
		return err
	}
	defer db.Close()
	switch verb {
	case "add":
		if err := db.DND().Add(ctx, account, strings.TrimSpace(reason), cl.pos...); err != nil {
			return fmt.Errorf("add: %w", err)
		}
		fmt.Fprintf(stdout, "%s added to the do-not-call list of account %s: its campaigns do not call them.\n", plural(len(cl.pos), "number"), account)
	case "remove":
		var missing []string
		for _, n := range cl.pos {
			err := db.DND().Remove(ctx, account, n)
			switch {
			case errors.Is(err, store.ErrNotFound):
				missing = append(missing, n)
			case err != nil:
				return fmt.Errorf("remove %s: %w", n, err)
			default:
				fmt.Fprintf(stdout, "%s removed from the do-not-call list of account %s.\n", n, account)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("not on the do-not-call list of account %s: %s", account, strings.Join(missing, ", "))
		}
	default:
		ns, err := allPages(func(p store.Page) ([]store.DNDNumber, int, error) { return db.DND().List(ctx, account, p) })
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NUMBER\tADDED\tREASON")
		for _, n := range ns {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", n.Number, n.CreatedAt.UTC().Format(time.DateTime), n.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s, times in UTC\n", plural(len(ns), "number"))
	}
	return nil
}
