package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// callCommand prints a call's record and its legs from the database.
func callCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 1 || args[0] != "show" {
		fmt.Fprint(stderr, "Usage: switchyard call show [flags] CALLSID\n")
		return errUsage
	}
	cfg := defaultConfig()
	fs := newFlagSet("call show", "call show [flags] CALLSID", stderr)
	if err := cfg.parse(fs, args[1:], false); err != nil {
		return flagErr(err)
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, "Usage: switchyard call show [flags] CALLSID\n")
		return errUsage
	}
	sid := fs.Arg(0)
	db, err := openDB(ctx, cfg, cfg.logger(stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	c, err := db.Calls().BySID(ctx, sid)
	if err != nil {
		return fmt.Errorf("call %s: %w", sid, err)
	}
	legs, err := db.Legs().ByCall(ctx, c.AccountSID, sid)
	if err != nil {
		return err
	}
	recs, err := db.Recordings().ByCall(ctx, c.AccountSID, sid)
	if err != nil {
		return err
	}
	ts := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.DateTime)
	}
	start := c.StartTime
	fmt.Fprintf(stdout, "Call %s (account %s)\n", c.SID, c.AccountSID)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	flow := "-"
	if c.FlowID != nil {
		flow = fmt.Sprintf("%s v%d", *c.FlowID, c.FlowVersion)
	}
	for _, kv := range [][2]string{
		{"Status", string(c.Status)}, {"Direction", c.Direction}, {"From", c.From}, {"To", c.To},
		{"ExoPhone", c.PhoneNumber}, {"Flow", flow}, {"Start", ts(&start)}, {"Answer", ts(c.AnswerTime)},
		{"End", ts(c.EndTime)}, {"Duration", fmt.Sprintf("%d s", c.Duration)},
		{"Conversation", fmt.Sprintf("%d s", c.ConversationDuration)}, {"Digits", c.Digits},
		{"Hangup cause", c.HangupCause}, {"Recording", c.RecordingURL},
	} {
		fmt.Fprintf(tw, "  %s\t%s\n", kv[0], kv[1])
	}
	if len(c.AppletPath) > 0 {
		fmt.Fprintf(tw, "  %s\t%s\n", "Path", appletPathLine(c))
	}
	tw.Flush()
	fmt.Fprintln(stdout, "Legs:")
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tDIRECTION\tFROM\tTO\tSTATUS\tCAUSE\tSIP\tDURATION\tTALK\tUUID")
	for _, l := range legs {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\t%d s\t%d s\t%s\n", l.Seq, l.Direction, l.From, l.To, l.Status,
			l.HangupCause, l.SIPTermStatus, l.Duration, l.TalkTime, l.UUID)
	}
	tw.Flush()
	for _, r := range recs {
		fmt.Fprintf(stdout, "Recording %s: %d s, %s, %s\n", r.ID, r.Duration, r.Channels, r.URL)
	}
	return nil
}

// appletPathLine is the applets the call ran through on one line, "welcome
// → menu → support"; an applet of another flow than the call's (after a
// transfer) is written flow/applet. A path as long as one is kept may
// have lost applets before its last: "…" marks the gap.
func appletPathLine(c *store.Call) string {
	names := make([]string, 0, len(c.AppletPath)+1)
	for i, st := range c.AppletPath {
		if i == store.MaxAppletPath-1 {
			names = append(names, "…")
		}
		name := st.Applet
		if c.FlowID == nil || st.Flow != *c.FlowID {
			name = st.Flow + "/" + name
		}
		names = append(names, name)
	}
	return strings.Join(names, " → ")
}
