package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/api/console"
	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// consoleRecordingValidity is how long the pre-signed URL of a recording
// on a console page plays.
const consoleRecordingValidity = 30 * time.Minute

// consoleDeps wires the web console to the API's store, signing key,
// failed-authentication limiter, pre-signed recording URLs and campaign
// code.
func (s *Server) consoleDeps() console.Deps {
	return console.Deps{
		Logger:       s.log,
		Store:        s.store,
		SigningKey:   s.opts.SigningKey,
		PublicURL:    s.opts.PublicURL,
		TimeZone:     s.opts.TimeZone,
		Now:          s.opts.Now,
		AuthFailures: consoleLimiter{s},
		RecordingURL: func(accountSID, recordingID string) string {
			return s.presign("/v1/Accounts/"+accountSID+"/Recordings/"+recordingID, time.Now(), consoleRecordingValidity)
		},
		CampaignAction: s.consoleCampaignAction,
		CampaignReport: s.consoleCampaignReport,
		ManageAPI:      s.consoleAPI,
		TestCall:       s.opts.TestCall,
	}
}

// consoleAPIPaths are the management routes the console's pages call
// (the flow builder): flows and their versions, and ExoPhones.
var consoleAPIPaths = regexp.MustCompile(`^(flows|exophones)(/[A-Za-z0-9_.+%-]+)*$`)

// consoleAPI serves a request of the console's scripts as the management
// API at /v2/accounts/<account>/<rest>, authenticated as the session's
// account: the same handlers, validation, answers and error format as
// for any client of the API. rest is the path after the console's API
// prefix, still escaped; only consoleAPIPaths are served.
func (s *Server) consoleAPI(c echo.Context, accountSID, rest string) error {
	if !consoleAPIPaths.MatchString(rest) {
		return manageNotFound(CodeNotFound, "console API path "+rest)
	}
	r := c.Request()
	path := "/v2/accounts/" + accountSID + "/" + rest
	unescaped, err := url.PathUnescape(path)
	if err != nil || strings.Contains(unescaped, "..") || strings.Count(unescaped, "/") != strings.Count(path, "/") {
		return manageNotFound(CodeNotFound, "console API path "+rest)
	}
	fwd := r.Clone(context.WithValue(r.Context(), consoleAccountKey{}, accountSID))
	fwd.URL.Path, fwd.URL.RawPath = unescaped, path
	fwd.RequestURI = fwd.URL.RequestURI()
	s.echo.ServeHTTP(c.Response(), fwd)
	return nil
}

// consoleLimiter counts the console's failed sign-ins as failed
// authentications of the client's address, with the API's own.
type consoleLimiter struct{ s *Server }

func (l consoleLimiter) Take(r *http.Request) (bool, time.Duration) {
	return l.s.authFailures.take(clientKey(r, l.s.opts.TrustedProxies), l.s.opts.Now())
}

func (l consoleLimiter) Refund(r *http.Request) {
	l.s.authFailures.refund(clientKey(r, l.s.opts.TrustedProxies), l.s.opts.Now())
}

// consoleCampaignAction applies a campaign action as PUT /campaigns/:id
// with an action does, and wakes the dialer (and the callback sender,
// for a completion). Errors are the store's (ErrNotFound,
// ErrCampaignState).
func (s *Server) consoleCampaignAction(c echo.Context, accountSID, campaignSID, action string) error {
	ctx := c.Request().Context()
	end := campaign.Callbacks{PublicURL: s.publicURL(c)}
	if _, err := s.store.Campaigns().Act(ctx, accountSID, campaignSID, action, end.Ended); err != nil {
		return fmt.Errorf("console: campaign %s %s: %w", campaignSID, action, err)
	}
	s.log.InfoContext(ctx, "api: campaign action", "account", accountSID, "campaign", campaignSID, "action", action, "via", "console")
	if action == store.ActionComplete {
		s.callbacksWritten()
	}
	s.campaignChanged()
	return nil
}

// consoleCampaignReport answers with the campaign's report as the API's
// call-details.csv does.
func (s *Server) consoleCampaignReport(c echo.Context, accountSID, campaignSID string) error {
	c.Set(keyAccount, &store.Account{SID: accountSID})
	c.SetParamNames("sid", "campaign_sid")
	c.SetParamValues(accountSID, campaignSID)
	return s.v2CallDetailsCSV(c)
}
