package flows

import (
	"regexp"
	"sort"
	"strings"
	"time"
)

// Hangup causes the interpreter uses.
const (
	CauseNormalClearing = "NORMAL_CLEARING"
	// CauseFlowError ends a call the flow cannot continue (a transfer to a
	// missing flow, a guard tripped).
	CauseFlowError = "NORMAL_TEMPORARY_FAILURE"
)

// Step advances a call's flow by one event. It returns the new state and
// the commands to run, in order. Step is deterministic and does no I/O; an
// event the state does not wait for changes nothing but State.Entered,
// which every Step empties before listing the applets it enters. The flow
// f must have passed validation ([Load] or [Validate]).
func Step(f *Flow, s State, ev Event) (State, []Command) {
	// Dropped, not truncated: appending to the caller's slice could write
	// into an array another state still shares.
	s.Entered = nil
	if s.Done() || ev == nil {
		return s, nil
	}
	r := &runner{f: f, s: s, now: ev.Time()}
	switch ev := ev.(type) {
	case Started:
		if s.Await != AwaitUnknown {
			return s, nil
		}
		r.s.Call = ev.Call
		r.s.StartedAt = ev.At
		r.s.FlowID = ev.Call.FlowID
		r.enter(f.Start)
	case HungUp:
		r.hungUp()
	case PlaybackDone:
		if s.Await != AwaitPlayback {
			return s, nil
		}
		r.follow(OutNext)
	case DigitsCollected:
		if s.Await != AwaitDigits {
			return s, nil
		}
		r.digits(ev.Digits)
	case DialResult:
		if s.Await != AwaitDial {
			return s, nil
		}
		r.dialed(ev)
	case RecordingDone:
		if s.Await != AwaitRecording {
			return s, nil
		}
		if ev.URL != "" {
			r.s.RecordingURL = ev.URL
		}
		r.follow(OutNext)
	case FetchResult:
		if s.Await != AwaitFetch {
			return s, nil
		}
		r.fetched(ev)
	case FlowLoaded:
		if s.Await != AwaitFlow {
			return s, nil
		}
		if ev.Err != "" {
			r.finish(CauseFlowError, "transfer failed: "+ev.Err)
			break
		}
		r.s.FlowID = ev.FlowID
		r.enter(f.Start)
	default:
		return s, nil
	}
	return r.s, r.cmds
}

// Output is the Passthru output the result leads to: success for a 2xx,
// alternate for 302, error for anything else or a failed request.
func (ev FetchResult) Output() string {
	switch {
	case ev.Err == "" && ev.StatusCode >= 200 && ev.StatusCode < 300:
		return OutSuccess
	case ev.Err == "" && ev.StatusCode == 302:
		return OutAlternate
	}
	return OutError
}

// runner holds one Step's work in progress.
type runner struct {
	f    *Flow
	s    State
	now  time.Time
	cmds []Command
}

func (r *runner) emit(c Command) { r.cmds = append(r.cmds, c) }

// fill replaces the @@Name placeholders of a prompt's text with the
// call's values (CallInfo.Vars).
func (r *runner) fill(p Prompt) Prompt {
	if len(r.s.Call.Vars) > 0 && strings.Contains(p.Text, "@@") {
		p.Text = placeholder.ReplaceAllStringFunc(p.Text, func(m string) string { return r.s.Call.Vars[m[2:]] })
	}
	return p
}

func (r *runner) fillAll(ps []Prompt) []Prompt {
	out := make([]Prompt, len(ps))
	for i, p := range ps {
		out[i] = r.fill(p)
	}
	return out
}

// placeholder is a @@Name in a prompt's text.
var placeholder = regexp.MustCompile(`@@[A-Za-z0-9_]+`)

func (r *runner) current() *Applet { return r.f.Applets[r.s.Applet] }

// follow takes a named output of the current applet.
func (r *runner) follow(output string) {
	a := r.current()
	if a == nil {
		r.finish(CauseFlowError, "applet "+r.s.Applet+" is not in the flow")
		return
	}
	r.enter(a.Outputs[output])
}

// enter runs applets from id until one blocks or the flow ends. Applets
// that do not wait (business hours, sms, email, async passthru) are run in
// the same step.
func (r *runner) enter(id string) {
	for {
		if id == "" {
			r.finish(CauseNormalClearing, "end of flow")
			return
		}
		a := r.f.Applets[id]
		if a == nil {
			r.finish(CauseFlowError, "applet "+id+" is not in the flow")
			return
		}
		r.s.Hops++
		if r.s.Hops > MaxHops {
			r.finish(CauseFlowError, "too many applets without caller input")
			return
		}
		r.s.Applet, r.s.Attempt, r.s.Gather = id, 0, nil
		r.s.Entered = append(r.s.Entered, id)
		if r.s.HungUp && usesMedia(a.Type) {
			r.end("caller hung up")
			return
		}
		switch cfg := a.Config.(type) {
		case *Greeting:
			if cfg.URL != "" {
				r.ask(cfg.URL, cfg.URLTimeout, FetchGreeting)
				return
			}
			r.emit(Play{Applet: id, Prompt: r.fill(cfg.Prompt)})
			r.s.Await = AwaitPlayback
			return
		case *IVR:
			r.menu(cfg, false)
			return
		case *Gather:
			if cfg.URL != "" {
				r.ask(cfg.URL, cfg.URLTimeout, FetchGather)
				return
			}
			r.gather(cfg, false)
			return
		case *Connect:
			r.emit(r.dial(cfg))
			r.s.Await = AwaitDial
			return
		case *Voicemail:
			rec := voicemail(id, cfg)
			if rec.Prompt != nil {
				p := r.fill(*rec.Prompt)
				rec.Prompt = &p
			}
			r.emit(rec)
			r.s.Await = AwaitRecording
			return
		case *Transfer:
			if cfg.Number != "" {
				r.emit(r.transferDial(cfg))
				r.s.Await = AwaitDial
				return
			}
			r.s.Transfers++
			if r.s.Transfers > MaxTransfers {
				r.finish(CauseFlowError, "too many transfers")
				return
			}
			r.emit(LoadFlow{Applet: id, Flow: cfg.Flow})
			r.s.Await = AwaitFlow
			return
		case *Passthru:
			r.emit(Fetch{Applet: id, URL: cfg.URL, Method: orString(cfg.Method, "GET"),
				Timeout: orDefault(cfg.Timeout, defaultFetchTimeout), Async: cfg.Async})
			if !cfg.Async {
				r.s.Await = AwaitFetch
				return
			}
			id = a.Outputs[OutSuccess]
		case *BusinessHours:
			if cfg.Open(r.now) {
				id = a.Outputs[OutOpen]
			} else {
				id = a.Outputs[OutClosed]
			}
		case *SMS:
			if cfg.URL != "" {
				r.ask(cfg.URL, cfg.URLTimeout, FetchSMS)
				return
			}
			r.sms(cfg, render(cfg.body, cfg.Body, r.s.messageData()))
			id = a.Outputs[OutNext]
		case *Switch:
			id = a.Outputs[cfg.choose(r.s, a.Outputs)]
		case *Email:
			d := r.s.messageData()
			r.emit(Send{Applet: id, Channel: ChannelEmail, To: append([]string(nil), cfg.To...),
				Subject: render(cfg.subject, cfg.Subject, d), Body: render(cfg.body, cfg.Body, d)})
			id = a.Outputs[OutNext]
		case *HangupApplet:
			r.finish(CauseNormalClearing, "hangup applet")
			return
		default:
			r.finish(CauseFlowError, "applet "+id+" has no usable config")
			return
		}
	}
}

// usesMedia reports whether an applet needs the caller on the line.
func usesMedia(t Type) bool {
	switch t {
	case TypeGreeting, TypeIVR, TypeGather, TypeConnect, TypeVoicemail, TypeTransfer:
		return true
	}
	return false
}

// finish ends the flow: it asks for a hang-up unless the caller is gone.
func (r *runner) finish(cause, reason string) {
	if r.s.HungUp {
		r.end(reason)
		return
	}
	r.emit(Hangup{Cause: cause, Reason: reason})
	r.s.Await = AwaitHangup
	r.s.Reason = reason
}

// end marks the flow over, with nothing more to command.
func (r *runner) end(reason string) {
	r.s.Await = AwaitNothing
	if r.s.Reason == "" {
		r.s.Reason = reason
	}
}

// hungUp handles the caller's channel going away.
func (r *runner) hungUp() {
	r.s.HungUp = true
	switch r.s.Await {
	case AwaitRecording:
		// Hanging up is how callers end a voicemail: the message stands and
		// the notification tail (sms, email, passthru) still runs.
		r.follow(OutNext)
	case AwaitFetch:
		// The request is in flight; its answer decides the tail.
	default:
		r.end("caller hung up")
	}
}

func (r *runner) menu(cfg *IVR, retry bool) {
	a := r.current()
	keys := make([]string, 0, len(a.Outputs))
	for k := range a.Outputs {
		if IsKey(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	prompts := []Prompt{cfg.Prompt}
	if retry && cfg.InvalidPrompt != nil {
		prompts = []Prompt{*cfg.InvalidPrompt, cfg.Prompt}
	}
	r.emit(CollectDigits{Applet: a.ID, Prompts: r.fillAll(prompts), MaxDigits: 1,
		Timeout: orDefault(cfg.Timeout, defaultIVRTimeout), ValidKeys: strings.Join(keys, "")})
	r.s.Attempt++
	r.s.Await = AwaitDigits
}

func (r *runner) gather(cfg *Gather, retry bool) {
	prompts := []Prompt{cfg.Prompt}
	if retry && cfg.RepeatPrompt != nil {
		prompts = []Prompt{*cfg.RepeatPrompt, cfg.Prompt}
	}
	finish := orString(cfg.FinishOnKey, defaultFinishKey)
	if finish == "none" {
		finish = ""
	}
	r.emit(CollectDigits{Applet: r.s.Applet, Prompts: r.fillAll(prompts),
		MaxDigits: orDefault(cfg.MaxDigits, defaultGatherDigits),
		Timeout:   orDefault(cfg.Timeout, defaultIVRTimeout), FinishOnKey: finish})
	r.s.Attempt++
	r.s.Await = AwaitDigits
}

// digits handles the result of an IVR or Gather prompt.
func (r *runner) digits(d string) {
	a := r.current()
	if a == nil {
		r.finish(CauseFlowError, "applet "+r.s.Applet+" is not in the flow")
		return
	}
	if d == "" {
		r.s.Silent++
		if r.s.Silent >= MaxSilentPrompts {
			r.finish(CauseNormalClearing, "no input from the caller")
			return
		}
	} else {
		r.s.Silent, r.s.Hops = 0, 0
	}
	attempt := r.s.Attempt
	switch cfg := a.Config.(type) {
	case *IVR:
		_, valid := a.Outputs[d]
		switch {
		case valid && IsKey(d):
			r.s.Digits = d
			r.follow(d)
		case attempt < orDefault(cfg.MaxAttempts, defaultAttempts):
			r.menu(cfg, true)
		case d == "":
			r.follow(OutTimeout)
		default:
			r.follow(OutInvalid)
		}
	case *Gather:
		if r.s.Gather != nil {
			cfg = r.s.Gather
		}
		if d == "" && attempt < orDefault(cfg.MaxAttempts, defaultAttempts) {
			r.gather(cfg, true)
			return
		}
		r.s.Digits = d
		r.follow(OutNext)
	default:
		r.finish(CauseFlowError, "digits for applet "+a.ID+", which collects none")
	}
}

// ask fetches an applet's dynamic settings; the answer comes back as a
// FetchResult (fetched).
func (r *runner) ask(url string, timeout int, purpose string) {
	r.emit(Fetch{Applet: r.s.Applet, URL: url, Method: "GET",
		Timeout: orDefault(timeout, defaultURLTimeout), Purpose: purpose})
	r.s.Await = AwaitFetch
}

// fetched takes the answer of a synchronous Fetch: a passthru's output,
// or the dynamic settings of the applet that asked.
func (r *runner) fetched(ev FetchResult) {
	a := r.current()
	if a == nil {
		r.finish(CauseFlowError, "applet "+r.s.Applet+" is not in the flow")
		return
	}
	switch cfg := a.Config.(type) {
	case *Greeting:
		if r.s.HungUp {
			r.end("caller hung up")
			return
		}
		p, ok := greetingAnswer(ev)
		if !ok {
			p = cfg.Prompt
		}
		if p.Audio == "" && p.Text == "" {
			r.follow(OutNext) // nothing to play: the URL failed and there is no fallback
			return
		}
		r.emit(Play{Applet: a.ID, Prompt: r.fill(p)})
		r.s.Await = AwaitPlayback
	case *Gather:
		if r.s.HungUp {
			r.end("caller hung up")
			return
		}
		g, ok := gatherAnswer(ev, cfg)
		if !ok {
			g = cfg
		}
		if g.Prompt.Audio == "" && g.Prompt.Text == "" {
			r.s.Digits = ""
			r.follow(OutNext)
			return
		}
		if ok {
			r.s.Gather = g
		}
		r.gather(g, false)
	case *SMS:
		body, ok := smsAnswer(ev)
		if !ok {
			body = render(cfg.body, cfg.Body, r.s.messageData())
		}
		if body != "" {
			r.sms(cfg, body)
		}
		r.follow(OutNext)
	default:
		body := ev.Body
		if ev.Err != "" {
			body = ""
		}
		if len(body) > MaxPassthruBody {
			body = body[:MaxPassthruBody]
		}
		r.s.Passthru = body
		r.follow(ev.Output())
	}
}

func (r *runner) sms(cfg *SMS, body string) {
	to := cfg.To
	if to == "" || to == "caller" {
		to = r.s.Call.From
	}
	r.emit(Send{Applet: r.s.Applet, Channel: ChannelSMS, To: []string{to}, Body: body})
}

// transferDial is a transfer to a number: a Connect with one destination.
func (r *runner) transferDial(cfg *Transfer) Dial {
	return Dial{
		Applet:       r.s.Applet,
		Destinations: []string{cfg.Number},
		Strategy:     Sequential,
		RingTimeout:  orDefault(cfg.RingTimeout, defaultRingTimeout),
		CallerID:     orString(cfg.CallerID, r.s.Call.ExoPhone),
	}
}

func (r *runner) dial(cfg *Connect) Dial {
	d := Dial{
		Applet:          r.s.Applet,
		Destinations:    append([]string(nil), cfg.Destinations...),
		Strategy:        cfg.Strategy,
		RingTimeout:     orDefault(cfg.RingTimeout, defaultRingTimeout),
		Record:          cfg.Record,
		CallerID:        orString(cfg.CallerID, r.s.Call.ExoPhone),
		MaxConversation: cfg.MaxConversation,
		MusicOnHold:     cfg.MusicOnHold,
		URL:             cfg.URL,
		FallbackURL:     cfg.FallbackURL,
		MaxParallel:     cfg.MaxParallel,
		StateManagement: cfg.StateManagement,
		DialEventURL:    cfg.DialEventURL,
		StartPlayback:   cfg.StartPlayback,
	}
	if cfg.Whisper != nil {
		w := r.fill(*cfg.Whisper)
		d.Whisper = &w
	}
	if d.Strategy == "" {
		d.Strategy = Sequential
	}
	if cfg.Record {
		d.RecordingChannels = orString(cfg.RecordingChannels, defaultRecordChannels)
	}
	if cfg.URL != "" {
		d.Timeout = orDefault(cfg.Timeout, defaultConnectFetch)
	}
	if cfg.StickyAgent != nil {
		d.StickyPeriod = orDefault(cfg.StickyAgent.Period, defaultStickyPeriod)
	}
	if q := cfg.Queue; q != nil {
		d.Queue = &Queue{
			MaxWait:      orDefault(q.MaxWait, defaultQueueWait),
			MusicOnHold:  orString(q.MusicOnHold, DefaultQueueMusic),
			Announcement: q.Announcement,
		}
		if q.Announcement != nil {
			d.Queue.AnnounceEvery = orDefault(q.AnnounceEvery, defaultAnnounceEvery)
		}
	}
	return d
}

func (r *runner) dialed(ev DialResult) {
	r.s.DialStatus = ev.Status
	r.s.DialWhom = ev.AnsweredBy
	if ev.RecordingURL != "" {
		r.s.RecordingURL = ev.RecordingURL
	}
	switch ev.Status {
	case DialCompleted:
		r.s.Hops = 0 // a conversation is caller activity
		r.follow(OutAnswered)
	case DialBusy:
		r.follow(OutBusy)
	case DialNoAnswer:
		r.follow(OutNoAnswer)
	default:
		r.follow(OutFailed)
	}
}

func voicemail(id string, cfg *Voicemail) Record {
	beep := cfg.Beep == nil || *cfg.Beep
	silence := defaultSilenceEnd
	if cfg.SilenceEnd != nil {
		silence = *cfg.SilenceEnd
	}
	return Record{Applet: id, Prompt: cfg.Prompt, Beep: beep,
		MaxLength: orDefault(cfg.MaxLength, defaultMaxLength), SilenceEnd: silence}
}

// Open reports whether t falls in an opening window, in the applet's zone.
func (b *BusinessHours) Open(t time.Time) bool {
	if b.loc == nil {
		return false
	}
	local := t.In(b.loc)
	if b.holidays[local.Format(time.DateOnly)] {
		return false
	}
	minute := local.Hour()*60 + local.Minute()
	for _, w := range b.Windows {
		if w.days[local.Weekday()] && minute >= w.open && minute < w.close {
			return true
		}
	}
	return false
}

func orString(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
