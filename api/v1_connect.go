package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Bounds of the connect parameters.
const (
	// callMaxTimeOut bounds TimeOut (ring time per leg). Exotel's legacy docs
	// cap it at 60 s; later docs give no cap. We accept up to an hour.
	callMaxTimeOut = 3600
	// callMaxCustomField is the new portal's limit on CustomField.
	callMaxCustomField = 128
)

// v1Connect is POST /v1/Accounts/:sid/Calls/connect[.json]: click-to-call
// (From, then To) or number-to-flow (From, then the flow named by Url).
func (s *Server) v1Connect(c echo.Context) error {
	params, err := formParams(c)
	if err != nil {
		return err
	}
	opts, err := v1CallOptsOf(params, false)
	if err != nil {
		return err
	}
	acc := account(c)
	req, err := s.v1ConnectRequest(c.Request().Context(), acc.SID, params)
	if err != nil {
		return err
	}
	got, err := s.placeCall(c, req)
	if err != nil {
		return placeErrV1(err, req)
	}
	view, err := s.v1CallView(c.Request().Context(), got, opts)
	if err != nil {
		return err
	}
	return writeV1(c, http.StatusOK, "Call", view)
}

// v1ConnectRequest validates the connect parameters (§2.1, §2.2 of the
// reference) into an OutboundRequest. Every failure is a 400 naming the
// parameter. Parameters the reference lists as unofficial
// (StatusCallbackEvent, IfMachine, RecordWhenAlone, VoiceUrl) and unknown
// ones are ignored, as Exotel does.
func (s *Server) v1ConnectRequest(ctx context.Context, accountSID string, p url.Values) (call.OutboundRequest, error) {
	req := call.OutboundRequest{AccountSID: accountSID, CallType: "trans"}
	get := func(name string) string { return strings.TrimSpace(p.Get(name)) }
	var err error

	if req.From, err = callNumber("From", p.Get("From"), true); err != nil {
		return req, err
	}

	to, flowURL := p.Get("To"), get("Url")
	switch {
	case strings.TrimSpace(to) != "" && flowURL != "":
		return req, badRequest("give either To (connect two numbers) or Url (connect to a flow), not both")
	case strings.TrimSpace(to) != "":
		if req.To, err = callNumber("To", to, false); err != nil {
			return req, err
		}
	case flowURL != "":
		if req.FlowID, err = flowIDOf(flowURL, accountSID); err != nil {
			return req, err
		}
	default:
		return req, badRequest("To is required (or Url, to connect From to a flow)")
	}

	if get("CallerId") == "" {
		return req, badRequest("CallerId is required: one of the account's ExoPhones")
	}
	phone, err := s.callExoPhone(ctx, accountSID, "CallerId", p.Get("CallerId"))
	if errors.Is(err, errNoExoPhone) {
		return req, badRequest(fmt.Sprintf("CallerId %s is not an ExoPhone of this account", get("CallerId")))
	}
	if err != nil {
		return req, err
	}
	req.CallerID = phone.Number

	if ct := get("CallType"); ct != "" {
		switch strings.ToLower(ct) {
		case "trans":
		case "promo":
			return req, badRequest("CallType promo (promotional calls) is no longer supported: use trans, or leave CallType out")
		default:
			return req, badRequest(fmt.Sprintf("CallType %q is not valid: the only call type is trans", ct))
		}
	}
	if req.TimeLimit, err = v1IntParam(get("TimeLimit"), "TimeLimit", 1, call.MaxTimeLimit); err != nil {
		return req, err
	}
	if req.TimeOut, err = v1IntParam(get("TimeOut"), "TimeOut", 1, callMaxTimeOut); err != nil {
		return req, err
	}
	if w := get("WaitUrl"); w != "" {
		if req.WaitURL, err = callHTTPURL("WaitUrl", w); err != nil {
			return req, err
		}
	}
	if r := get("Record"); r != "" {
		if req.Record, err = v1BoolParam("Record", r); err != nil {
			return req, err
		}
	}
	if ch := get("RecordingChannels"); ch != "" {
		switch strings.ToLower(ch) {
		case store.ChannelsSingle, store.ChannelsDual:
			if req.Record {
				req.RecordingChannels = strings.ToLower(ch)
			}
		default:
			return req, badRequest(fmt.Sprintf("RecordingChannels %q is not valid: single or dual", ch))
		}
	}
	// RecordingFormat is what the recording is archived as once the call
	// is over; left out, the server's default (-recording-format).
	if f := get("RecordingFormat"); f != "" {
		if !strings.EqualFold(f, "mp3") && !strings.EqualFold(f, "mp3-hq") {
			return req, badRequest(fmt.Sprintf("RecordingFormat %q is not valid: mp3 or mp3-hq", f))
		}
		req.RecordingFormat = strings.ToLower(f)
	}
	req.CustomField = p.Get("CustomField")
	if n := utf8.RuneCountInString(req.CustomField); n > callMaxCustomField {
		return req, badRequest(fmt.Sprintf("CustomField is %d characters long: at most %d", n, callMaxCustomField))
	}
	if cb := get("StatusCallback"); cb != "" {
		if req.StatusCallback, err = callHTTPURL("StatusCallback", cb); err != nil {
			return req, err
		}
	}
	if req.StatusCallbackEvents, err = statusCallbackEvents(p); err != nil {
		return req, err
	}
	req.StatusCallbackContentType = store.ContentMultipart
	if ct := get("StatusCallbackContentType"); ct != "" {
		switch strings.ToLower(ct) {
		case store.ContentMultipart:
		case store.ContentJSON:
			req.StatusCallbackContentType = store.ContentJSON
		default:
			return req, badRequest(fmt.Sprintf("StatusCallbackContentType %q is not valid: multipart/form-data or application/json", ct))
		}
	}
	// Streaming and pre-connect playback are documented by Exotel but not
	// implemented here: refusing them is better than a call that silently
	// lacks them.
	for _, name := range []string{"StreamUrl", "StartPlaybackValueNew"} {
		if get(name) != "" {
			return req, badRequest(name + " is not supported by this server")
		}
	}

	if req.FlowID != "" {
		f, err := s.store.Flows().Get(ctx, accountSID, req.FlowID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return req, badRequest(fmt.Sprintf("Url names flow %s, which does not exist in this account", req.FlowID))
		case err != nil:
			return req, fmt.Errorf("look up flow %s: %w", req.FlowID, err)
		case f.LiveVersion == 0:
			return req, badRequest(fmt.Sprintf("flow %s is not published", req.FlowID))
		}
	}
	return req, nil
}

// flowIDOf extracts the flow (Exotel "app") id from a flow URL
// (campaign.FlowIDOf: the current form, for the request's account, or the
// legacy one). Anything else is a 400 naming Url.
func flowIDOf(raw, accountSID string) (string, error) {
	id, err := campaign.FlowIDOf(raw, accountSID)
	if err != nil {
		why := strings.TrimSuffix(err.Error(), ": "+campaign.ErrFlowURL.Error())
		return "", badRequest("Url is not a flow URL: " + why)
	}
	return id, nil
}

// statusCallbackEvents collects StatusCallbackEvents in each encoding
// clients use: StatusCallbackEvents[]=x, StatusCallbackEvents[0]=x&…[1]=y
// (in index order), repeated StatusCallbackEvents=x, and a comma-separated
// list in any of them. Values are terminal and answered, deduplicated.
func statusCallbackEvents(p url.Values) ([]string, error) {
	type indexed struct {
		i int
		v []string
	}
	var plain []string
	var byIndex []indexed
	for k, vs := range p {
		switch {
		case k == "StatusCallbackEvents" || k == "StatusCallbackEvents[]":
			plain = append(plain, vs...)
		case strings.HasPrefix(k, "StatusCallbackEvents[") && strings.HasSuffix(k, "]"):
			i, err := strconv.Atoi(k[len("StatusCallbackEvents[") : len(k)-1])
			if err != nil || i < 0 {
				return nil, badRequest(fmt.Sprintf("%s: the index must be a number", k))
			}
			byIndex = append(byIndex, indexed{i, vs})
		}
	}
	sort.Slice(byIndex, func(a, b int) bool { return byIndex[a].i < byIndex[b].i })
	for _, x := range byIndex {
		plain = append(plain, x.v...)
	}
	var out []string
	for _, v := range plain {
		for _, e := range strings.Split(v, ",") {
			e = strings.ToLower(strings.TrimSpace(e))
			switch e {
			case "":
				continue
			case store.CallbackTerminal, store.CallbackAnswered:
			default:
				return nil, badRequest(fmt.Sprintf("StatusCallbackEvents %q is not valid: terminal or answered", e))
			}
			if !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// v1IntParam parses an optional integer parameter in [lo, hi]; "" is 0.
func v1IntParam(v, name string, lo, hi int) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err == nil && n == 0 {
		// Clients send 0 for a field they leave unset (a Go client's zero
		// value): it means the default, like an empty one.
		return 0, nil
	}
	if err != nil || n < lo || n > hi {
		return 0, badRequest(fmt.Sprintf("%s %q is not valid: a whole number of seconds from %d to %d", name, v, lo, hi))
	}
	return n, nil
}

// v1BoolParam parses true/false (also 1/0, any case).
func v1BoolParam(name, v string) (bool, error) {
	b, err := strconv.ParseBool(strings.ToLower(v))
	if err != nil {
		return false, badRequest(fmt.Sprintf("%s %q is not valid: true or false", name, v))
	}
	return b, nil
}
