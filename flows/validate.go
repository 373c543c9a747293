package flows

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // zone data travels with the binary: business hours mean the same everywhere

	"github.com/switchyard/switchyard/orchestrator/dialstr"
)

// Limits on configurable values.
const (
	MaxPromptText   = 4000
	MaxDestinations = 50
	// MaxParallelAttempts caps parallel ringing, as Exotel does.
	MaxParallelAttempts = 10
	MaxConversationCap  = 14400 // four hours, as Exotel's TimeLimit
	MaxSMSBody          = 1600
	MaxTemplate         = 16000
)

var (
	flowIDRe  = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,64}$`)
	clockRe   = regexp.MustCompile(`^([01][0-9]|2[0-4]):([0-5][0-9])$`)
	appletIDs = regexp.MustCompile(`^[A-Za-z0-9_\-.]{1,64}$`)
)

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// Validate checks a flow built in code (Load already validates what it
// decodes) and prepares it for Step. It returns every problem found.
func Validate(f *Flow) Problems {
	var c collector
	validate(&c, f)
	sortProblems(c.list)
	return c.list
}

func validate(c *collector, f *Flow) {
	if f.Start == "" {
		c.errorf("", "start", "missing start applet")
	} else if _, ok := f.Applets[f.Start]; !ok {
		c.errorf("", "start", "start applet %q does not exist", f.Start)
	}
	if len(f.Applets) == 0 {
		c.errorf("", "applets", "a flow needs at least one applet")
	}
	for _, id := range sortedKeys(f.Applets) {
		a := f.Applets[id]
		if a == nil {
			c.errorf(id, "", "applet is null")
			continue
		}
		a.ID = id
		if !appletIDs.MatchString(id) {
			c.errorf(id, "", "applet id must be 1-64 letters, digits, '_', '-' or '.'")
		}
		if a.Config == nil {
			a.Config = newConfig(a.Type)
		}
		switch {
		case a.Type == "":
			c.errorf(id, "type", "missing applet type")
			continue
		case a.Config == nil:
			c.errorf(id, "type", "unknown applet type %q (known: %s)", a.Type, typeList())
			continue
		}
		if a.Config.appletType() != a.Type {
			c.errorf(id, "config", "config is for %s, applet type is %s", a.Config.appletType(), a.Type)
			continue
		}
		validateOutputs(c, f, a)
		v := configChecker{c: c, id: id}
		v.check(a.Config)
	}
	checkReachable(c, f)
	checkLoops(c, f)
	checkLayout(c, f)
}

// checkLayout refuses positions off any sane canvas and warns about
// positions of applets the flow does not have (an editor left them
// behind; they are harmless).
func checkLayout(c *collector, f *Flow) {
	for _, id := range sortedKeys(f.Layout) {
		p := f.Layout[id]
		field := "layout." + id
		if p.X < -MaxCoordinate || p.X > MaxCoordinate || p.Y < -MaxCoordinate || p.Y > MaxCoordinate {
			c.errorf("", field, "position (%d, %d) is outside -%d..%d", p.X, p.Y, MaxCoordinate, MaxCoordinate)
		}
		if _, ok := f.Applets[id]; !ok {
			c.warnf("", field, "position of applet %q, which is not in the flow", id)
		}
	}
}

// outputsOf lists the output names an applet type may have; keys is true
// for the IVR, whose outputs are also named by keys.
func outputsOf(t Type) (names []string, keys bool) {
	switch t {
	case TypeGreeting, TypeGather, TypeVoicemail, TypeSMS, TypeEmail:
		return []string{OutNext}, false
	case TypeIVR:
		return []string{OutTimeout, OutInvalid}, true
	case TypeConnect:
		return []string{OutAnswered, OutNoAnswer, OutBusy, OutFailed}, false
	case TypePassthru:
		return []string{OutSuccess, OutAlternate, OutError}, false
	case TypeBusinessHours:
		return []string{OutOpen, OutClosed}, false
	case TypeSwitch:
		return []string{OutDefault}, false
	}
	return nil, false
}

// appletOutputs is outputsOf for an applet, whose config can change them:
// a transfer to a number has a connect's outputs.
func appletOutputs(a *Applet) ([]string, bool) {
	if t, ok := a.Config.(*Transfer); ok && t.Number != "" {
		return outputsOf(TypeConnect)
	}
	return outputsOf(a.Type)
}

// IsKey reports whether s is a single DTMF key: 0-9, * or #.
func IsKey(s string) bool {
	return len(s) == 1 && (s[0] >= '0' && s[0] <= '9' || s[0] == '*' || s[0] == '#')
}

func validateOutputs(c *collector, f *Flow, a *Applet) {
	names, keys := appletOutputs(a)
	allowed := map[string]bool{}
	for _, n := range names {
		allowed[n] = true
	}
	keyCount := 0
	for _, name := range sortedKeys(a.Outputs) {
		target := a.Outputs[name]
		field := "outputs." + name
		switch {
		case allowed[name]:
		case keys && IsKey(name):
			keyCount++
		case a.Type == TypeSwitch:
			if !switchCase(c, a, name) {
				continue
			}
			keyCount++
		case keys:
			c.errorf(a.ID, field, "invalid key %q: keys are single digits 0-9, * or #", name)
			continue
		case len(names) == 0:
			c.errorf(a.ID, field, "a %s applet has no outputs", a.Type)
			continue
		default:
			c.errorf(a.ID, field, "unknown output %q for a %s applet (allowed: %s)", name, a.Type, strings.Join(names, ", "))
			continue
		}
		if target == "" {
			c.errorf(a.ID, field, "output points at nothing")
		} else if _, ok := f.Applets[target]; !ok {
			c.errorf(a.ID, field, "dangling output: applet %q does not exist", target)
		}
	}
	switch a.Type {
	case TypeIVR:
		if keyCount == 0 {
			c.errorf(a.ID, "outputs", "an ivr needs at least one key output")
		}
	case TypeBusinessHours:
		for _, n := range []string{OutOpen, OutClosed} {
			if a.Outputs[n] == "" {
				c.errorf(a.ID, "outputs."+n, "missing output")
			}
		}
	case TypePassthru:
		if cfg, ok := a.Config.(*Passthru); ok && !cfg.Async && a.Outputs[OutSuccess] == "" {
			c.errorf(a.ID, "outputs."+OutSuccess, "missing output")
		}
	case TypeSwitch:
		if keyCount == 0 {
			c.errorf(a.ID, "outputs", "a switch needs at least one case output besides default")
		}
		if a.Outputs[OutDefault] == "" {
			c.errorf(a.ID, "outputs."+OutDefault, "missing output: default is taken when no case matches")
		}
	}
}

// switchCase checks a switch's case name against what it compares,
// reporting why it cannot match.
func switchCase(c *collector, a *Applet, name string) bool {
	field := "outputs." + name
	on := SwitchPassthru
	if cfg, ok := a.Config.(*Switch); ok && cfg.On != "" {
		on = cfg.On
	}
	switch {
	case strings.TrimSpace(name) != name || name == "":
		c.errorf(a.ID, field, "a case must not be empty or start or end with a space")
	case len(name) > 128:
		c.errorf(a.ID, field, "a case is at most 128 characters")
	case on == SwitchDigits && !digitsCase(name):
		c.errorf(a.ID, field, "a digits case is keys 0-9 * # (got %q)", name)
	case on == SwitchCallerPrefix && !prefixCase(name):
		c.errorf(a.ID, field, "a caller_prefix case is digits with an optional leading + (got %q)", name)
	default:
		for _, r := range name {
			if r < 0x20 || r == 0x7f {
				c.errorf(a.ID, field, "a case must not contain control characters")
				return false
			}
		}
		return true
	}
	return false
}

func digitsCase(s string) bool {
	for i := 0; i < len(s); i++ {
		if !IsKey(s[i : i+1]) {
			return false
		}
	}
	return s != ""
}

func prefixCase(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// configChecker validates one applet's config.
type configChecker struct {
	c  *collector
	id string
}

func (v configChecker) errorf(field, format string, args ...any) {
	v.c.errorf(v.id, "config."+field, format, args...)
}

func (v configChecker) rangeInt(field string, val, lo, hi int) {
	if val < lo || val > hi {
		v.errorf(field, "must be between %d and %d (got %d)", lo, hi, val)
	}
}

// optRange checks a value whose zero means "use the default".
func (v configChecker) optRange(field string, val, lo, hi int) {
	if val != 0 {
		v.rangeInt(field, val, lo, hi)
	}
}

func (v configChecker) check(cfg Config) {
	switch cfg := cfg.(type) {
	case *Greeting:
		v.optionalPrompt(cfg.URL, &cfg.Prompt)
		v.dynamicURL(cfg.URL, cfg.URLTimeout)
	case *IVR:
		v.prompt("prompt", &cfg.Prompt)
		if cfg.InvalidPrompt != nil {
			v.prompt("invalid_prompt", cfg.InvalidPrompt)
		}
		v.optRange("timeout", cfg.Timeout, 1, 60)
		v.optRange("max_attempts", cfg.MaxAttempts, 1, 10)
	case *Gather:
		v.optionalPrompt(cfg.URL, &cfg.Prompt)
		v.dynamicURL(cfg.URL, cfg.URLTimeout)
		if cfg.RepeatPrompt != nil {
			v.prompt("repeat_prompt", cfg.RepeatPrompt)
		}
		v.optRange("max_digits", cfg.MaxDigits, 1, 32)
		v.optRange("timeout", cfg.Timeout, 1, 60)
		v.optRange("max_attempts", cfg.MaxAttempts, 1, 10)
		if k := cfg.FinishOnKey; k != "" && k != "none" && !IsKey(k) {
			v.errorf("finish_on_key", "must be one of 0-9 * # or \"none\" (got %q)", k)
		}
	case *Connect:
		v.connect(cfg)
	case *Voicemail:
		if cfg.Prompt != nil {
			v.prompt("prompt", cfg.Prompt)
		}
		v.optRange("max_length", cfg.MaxLength, 1, 3600)
		if cfg.SilenceEnd != nil {
			v.rangeInt("silence_end", *cfg.SilenceEnd, 0, 60)
		}
	case *Transfer:
		switch {
		case cfg.Flow == "" && cfg.Number == "":
			v.errorf("flow", "missing flow (or number) to transfer to")
		case cfg.Flow != "" && cfg.Number != "":
			v.errorf("number", "a transfer goes to a flow or a number, not both")
		case cfg.Flow != "" && !flowIDRe.MatchString(cfg.Flow):
			v.errorf("flow", "flow id must be 1-64 letters, digits, '_' or '-'")
		case cfg.Number != "" && !dialstr.Contact(cfg.Number):
			v.errorf("number", "not a phone number (+ and 3-15 digits), SIP URI or sip:<TrunkID>: %q", cfg.Number)
		}
		if cfg.Flow != "" && (cfg.RingTimeout != 0 || cfg.CallerID != "") {
			v.errorf("ring_timeout", "ring_timeout and caller_id only apply to a transfer to a number")
		}
		v.optRange("ring_timeout", cfg.RingTimeout, 5, 120)
		if cfg.CallerID != "" && !dialstr.CallerID(cfg.CallerID) {
			v.errorf("caller_id", "not a phone number: %q", cfg.CallerID)
		}
	case *Passthru:
		v.url("url", cfg.URL)
		if m := cfg.Method; m != "" && m != "GET" && m != "POST" {
			v.errorf("method", "must be GET or POST (got %q)", m)
		}
		v.optRange("timeout", cfg.Timeout, 1, 30)
	case *BusinessHours:
		v.businessHours(cfg)
	case *SMS:
		if cfg.To != "" && cfg.To != "caller" && !dialstr.Number(cfg.To) {
			v.errorf("to", "must be \"caller\" or a phone number (got %q)", cfg.To)
		}
		v.dynamicURL(cfg.URL, cfg.URLTimeout)
		if cfg.Body == "" && cfg.URL == "" {
			v.errorf("body", "missing message body (or a url that returns it)")
		} else if len(cfg.Body) > MaxSMSBody {
			v.errorf("body", "longer than %d characters", MaxSMSBody)
		}
		cfg.body = v.template("body", cfg.Body)
	case *Email:
		if len(cfg.To) == 0 {
			v.errorf("to", "at least one address is needed")
		}
		for i, addr := range cfg.To {
			if _, err := mail.ParseAddress(addr); err != nil {
				v.errorf(fmt.Sprintf("to[%d]", i), "not an email address: %q", addr)
			}
		}
		if cfg.Subject == "" {
			v.errorf("subject", "missing subject")
		} else if strings.ContainsAny(cfg.Subject, "\r\n") {
			v.errorf("subject", "must be one line")
		}
		cfg.subject = v.template("subject", cfg.Subject)
		cfg.body = v.template("body", cfg.Body)
	case *Switch:
		switch cfg.On {
		case "", SwitchPassthru, SwitchDigits, SwitchCustomField, SwitchCallerPrefix:
		default:
			v.errorf("on", "must be passthru, digits, custom_field or caller_prefix (got %q)", cfg.On)
		}
		if cfg.Field != "" {
			if cfg.On != "" && cfg.On != SwitchPassthru {
				v.errorf("field", "only applies to a switch on passthru")
			}
			if len(cfg.Field) > 64 {
				v.errorf("field", "at most 64 characters")
			}
			v.safe("field", cfg.Field)
		}
	case *HangupApplet:
	}
}

// optionalPrompt checks a prompt that a dynamic URL makes optional: the
// fallback when the URL fails.
func (v configChecker) optionalPrompt(url string, p *Prompt) {
	if url != "" && p.Audio == "" && p.Text == "" && p.Voice == "" {
		return
	}
	v.prompt("prompt", p)
}

// dynamicURL checks an applet's url and url_timeout.
func (v configChecker) dynamicURL(raw string, timeout int) {
	if raw != "" {
		v.url("url", raw)
	} else if timeout != 0 {
		v.errorf("url_timeout", "only applies with url")
	}
	v.optRange("url_timeout", timeout, 1, 30)
}

func (v configChecker) prompt(field string, p *Prompt) {
	switch {
	case p.Audio == "" && p.Text == "":
		v.errorf(field, "needs audio or text")
	case p.Audio != "" && p.Text != "":
		v.errorf(field, "has both audio and text; give one")
	case len(p.Text) > MaxPromptText:
		v.errorf(field+".text", "longer than %d characters", MaxPromptText)
	}
	v.safe(field+".text", p.Text)
	v.safe(field+".voice", p.Voice)
	if p.Audio != "" {
		v.media(field+".audio", p.Audio)
	}
}

// media checks something the media node plays: an http(s) URL, a
// FreeSWITCH stream (local_stream://, tone_stream://) or a file path.
func (v configChecker) media(field, s string) {
	v.safe(field, s)
	if err := dialstr.Media(s); err != nil {
		v.errorf(field, "%v", err)
	}
	scheme, _, ok := strings.Cut(s, "://")
	switch {
	case !ok:
	case scheme == "http" || scheme == "https":
		v.url(field, s)
	case scheme == "local_stream" || scheme == "tone_stream":
	default:
		v.errorf(field, "must be an http(s) URL, local_stream://, tone_stream:// or a file path (got %q)", s)
	}
}

// safe rejects characters that would break the control protocol or a
// dial string: control characters anywhere.
func (v configChecker) safe(field, s string) {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			v.errorf(field, "contains a control character")
			return
		}
	}
}

func (v configChecker) url(field, raw string) {
	if raw == "" {
		v.errorf(field, "missing URL")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errorf(field, "must be an absolute http or https URL (got %q)", raw)
	}
}

func (v configChecker) connect(cfg *Connect) {
	switch n := len(cfg.Destinations); {
	case n == 0 && cfg.URL == "":
		v.errorf("destinations", "at least one destination (or a url that returns them) is needed")
	case n > MaxDestinations:
		v.errorf("destinations", "at most %d destinations (got %d)", MaxDestinations, n)
	}
	for i, d := range cfg.Destinations {
		if !dialstr.Contact(d) {
			v.errorf(fmt.Sprintf("destinations[%d]", i), "not a phone number (+ and 3-15 digits) or SIP URI: %q", d)
		}
	}
	if s := cfg.Strategy; s != "" && s != Parallel && s != Sequential {
		v.errorf("strategy", "must be parallel or sequential (got %q)", s)
	}
	v.optRange("ring_timeout", cfg.RingTimeout, 5, 120)
	if ch := cfg.RecordingChannels; ch != "" && ch != "single" && ch != "dual" {
		v.errorf("recording_channels", "must be single or dual (got %q)", ch)
	}
	if cfg.CallerID != "" && !dialstr.CallerID(cfg.CallerID) {
		v.errorf("caller_id", "not a phone number: %q", cfg.CallerID)
	}
	v.rangeInt("max_conversation", cfg.MaxConversation, 0, MaxConversationCap)
	if cfg.MusicOnHold != "" {
		v.media("music_on_hold", cfg.MusicOnHold)
	}
	if cfg.URL != "" {
		v.url("url", cfg.URL)
	}
	if cfg.FallbackURL != "" {
		if cfg.URL == "" {
			v.errorf("fallback_url", "needs url")
		}
		v.url("fallback_url", cfg.FallbackURL)
	}
	if cfg.URL == "" && cfg.Timeout != 0 {
		v.errorf("timeout", "only applies with url")
	}
	v.optRange("timeout", cfg.Timeout, 1, 30)
	v.rangeInt("max_parallel_attempts", cfg.MaxParallel, 0, MaxParallelAttempts)
	if cfg.DialEventURL != "" {
		v.url("dial_event_url", cfg.DialEventURL)
	}
	if s := cfg.StickyAgent; s != nil {
		v.optRange("sticky_agent.period", s.Period, 60, 30*86400)
	}
	if q := cfg.Queue; q != nil {
		v.optRange("queue.max_wait", q.MaxWait, 5, 3600)
		if q.MusicOnHold != "" {
			v.media("queue.music_on_hold", q.MusicOnHold)
		}
		if q.Announcement != nil {
			v.prompt("queue.announcement", q.Announcement)
			v.optRange("queue.announce_every", q.AnnounceEvery, 5, 600)
		} else if q.AnnounceEvery != 0 {
			v.errorf("queue.announce_every", "needs an announcement")
		}
	}
	if cfg.Whisper != nil {
		v.prompt("whisper", cfg.Whisper)
	}
	if p := cfg.StartPlayback; p != nil {
		if p.To != "" && p.To != "callee" && p.To != "both" {
			v.errorf("start_call_playback.playback_to", "must be callee or both (got %q)", p.To)
		}
		v.prompt("start_call_playback.prompt", &p.Prompt)
	}
}

func (v configChecker) businessHours(cfg *BusinessHours) {
	if cfg.Timezone == "" {
		v.errorf("timezone", "missing IANA time zone, e.g. Asia/Kolkata")
	} else if loc, err := time.LoadLocation(cfg.Timezone); err != nil {
		v.errorf("timezone", "unknown time zone %q", cfg.Timezone)
	} else {
		cfg.loc = loc
	}
	if len(cfg.Windows) == 0 {
		v.errorf("windows", "at least one opening window is needed")
	}
	for i := range cfg.Windows {
		w := &cfg.Windows[i]
		field := fmt.Sprintf("windows[%d]", i)
		if len(w.Days) == 0 {
			v.errorf(field+".days", "at least one day is needed")
		}
		w.days = [7]bool{}
		for _, d := range w.Days {
			wd, ok := weekdays[strings.ToLower(d)]
			if !ok {
				v.errorf(field+".days", "unknown day %q (use mon tue wed thu fri sat sun)", d)
				continue
			}
			w.days[wd] = true
		}
		open, okOpen := clockMinutes(w.Open)
		closeAt, okClose := clockMinutes(w.Close)
		if !okOpen {
			v.errorf(field+".open", "must be HH:MM (got %q)", w.Open)
		}
		if !okClose {
			v.errorf(field+".close", "must be HH:MM (got %q)", w.Close)
		}
		if okOpen && okClose && closeAt <= open {
			v.errorf(field, "close %s is not after open %s", w.Close, w.Open)
		}
		w.open, w.close = open, closeAt
	}
	cfg.holidays = map[string]bool{}
	for i, h := range cfg.Holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			v.errorf(fmt.Sprintf("holidays[%d]", i), "must be a date YYYY-MM-DD (got %q)", h)
			continue
		}
		cfg.holidays[h] = true
	}
}

func clockMinutes(s string) (int, bool) {
	m := clockRe.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	h := int(m[1][0]-'0')*10 + int(m[1][1]-'0')
	mm := int(m[2][0]-'0')*10 + int(m[2][1]-'0')
	if h == 24 && mm != 0 {
		return 0, false
	}
	return h*60 + mm, true
}

// checkReachable warns about applets no path from start reaches.
func checkReachable(c *collector, f *Flow) {
	if _, ok := f.Applets[f.Start]; !ok {
		return
	}
	seen := map[string]bool{f.Start: true}
	queue := []string{f.Start}
	for len(queue) > 0 {
		a := f.Applets[queue[0]]
		queue = queue[1:]
		if a == nil {
			continue
		}
		for _, name := range sortedKeys(a.Outputs) {
			t := a.Outputs[name]
			if _, ok := f.Applets[t]; ok && !seen[t] {
				seen[t] = true
				queue = append(queue, t)
			}
		}
	}
	for _, id := range sortedKeys(f.Applets) {
		if !seen[id] {
			c.warnf(id, "", "unreachable from the start applet")
		}
	}
}

// waitsForCaller reports whether an applet waits for the caller's input,
// which is what keeps a loop from spinning.
func waitsForCaller(t Type) bool {
	return t == TypeIVR || t == TypeGather || t == TypeVoicemail
}

// checkLoops rejects cycles in which no applet waits for caller input: such
// a loop would spin (or replay prompts) forever.
func checkLoops(c *collector, f *Flow) {
	for _, scc := range cycles(f) {
		waits := false
		for _, id := range scc {
			if waitsForCaller(f.Applets[id].Type) {
				waits = true
				break
			}
		}
		if !waits {
			c.errorf(scc[0], "outputs", "loop with no caller-input step (ivr, gather or voicemail): %s",
				strings.Join(append(scc, scc[0]), " -> "))
		}
	}
}

// cycles returns the strongly connected components of the applet graph that
// contain a cycle, each sorted, using Tarjan's algorithm.
func cycles(f *Flow) [][]string {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0
	var strong func(id string)
	strong = func(id string) {
		index[id], low[id] = next, next
		next++
		stack = append(stack, id)
		onStack[id] = true
		a := f.Applets[id]
		selfLoop := false
		for _, name := range sortedKeys(a.Outputs) {
			t := a.Outputs[name]
			if f.Applets[t] == nil {
				continue
			}
			if t == id {
				selfLoop = true
			}
			if _, seen := index[t]; !seen {
				strong(t)
				low[id] = min(low[id], low[t])
			} else if onStack[t] {
				low[id] = min(low[id], index[t])
			}
		}
		if low[id] != index[id] {
			return
		}
		var comp []string
		for {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[top] = false
			comp = append(comp, top)
			if top == id {
				break
			}
		}
		if len(comp) > 1 || selfLoop {
			sort.Strings(comp)
			out = append(out, comp)
		}
	}
	for _, id := range sortedKeys(f.Applets) {
		if f.Applets[id] == nil {
			continue
		}
		if _, seen := index[id]; !seen {
			strong(id)
		}
	}
	return out
}
