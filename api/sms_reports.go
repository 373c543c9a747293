package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/sms"
)

// smsReportsPath is where a webhook SMS gateway posts delivery reports.
const smsReportsPath = "/gateway/sms/reports"

// routesSMSReports takes the webhook SMS gateway's delivery reports, when
// the server has somewhere to put them: POST a JSON sms.WebhookReport
// with Authorization: Bearer <the gateway's token>. Not an account route:
// the gateway serves every account, and the report names the message.
func (s *Server) routesSMSReports(e *echo.Echo) {
	if s.opts.SMSReports == nil {
		return
	}
	e.POST(smsReportsPath, s.smsReport, s.gatewayAuth)
}

// gatewayAuth checks the SMS gateway's bearer token (bearerAuth).
func (s *Server) gatewayAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return s.bearerAuth(s.opts.SMSReportToken, "the SMS gateway's token")(next)
}

// bearerAuth checks a bearer token against want (constant time); a wrong
// one counts as a failed authentication of the client's address, and an
// empty want lets nobody in. who names the token in the 401's message.
func (s *Server) bearerAuth(want, who string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			client := clientKey(r, s.opts.TrustedProxies)
			if ok, wait := s.authFailures.take(client, s.opts.Now()); !ok {
				return tooManyRequests(c, wait, "too many failed authentications from your address")
			}
			token, ok := strings.CutPrefix(r.Header.Get(echo.HeaderAuthorization), "Bearer ")
			if !ok || want == "" || subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
				return fail(http.StatusUnauthorized, CodeAuthFailed, "authentication required: Authorization: Bearer <"+who+">")
			}
			s.authFailures.refund(client, s.opts.Now())
			return next(c)
		}
	}
}

// smsReport applies one delivery report: 204 when recorded (or kept until
// its message's submission is), 400 for a report it cannot read.
func (s *Server) smsReport(c echo.Context) error {
	var in sms.WebhookReport
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	rep, err := in.Report()
	if errors.Is(err, sms.ErrReport) {
		return badRequest(err.Error())
	}
	if err != nil {
		return err
	}
	if err := s.opts.SMSReports(c.Request().Context(), rep); err != nil {
		return fmt.Errorf("sms report %s: %w", rep.ID, err)
	}
	return c.NoContent(http.StatusNoContent)
}

// SMSReporter takes delivery reports; *sms.Sender's Report is one.
type SMSReporter func(ctx context.Context, r sms.Report) error

// oaSMSReport describes POST /gateway/sms/reports.
func oaSMSReport() oaObj {
	return oaObj{
		"tags": []any{"SMS v1"}, "summary": "A webhook SMS gateway's delivery report",
		"description": "Served when the webhook SMS provider runs with reports on (-sms-webhook-reports): the gateway " +
			"posts each message's outcome, naming it by the id its answer to the submission gave (or the message's " +
			"sid), as Exotel's detailed_status_code or a status word. The message takes its final status and its " +
			"StatusCallback is sent. 204 when recorded; a report for a message already final is ignored.",
		"security": []any{oaObj{"gatewayToken": []any{}}},
		"requestBody": oaObj{"required": true, "content": oaJSONContent(oaObject([]string{"id"}, oaObj{
			"id":                   oaStr("the gateway's id for the message, or its sid"),
			"detailed_status_code": oaInt("an Exotel code: 20005, 20006, 23005, 23010, ..."),
			"status":               oaEnum("used when detailed_status_code is absent", "delivered", "delivered_to_operator", "dnd", "invalid", "rejected", "blacklisted", "expired", "undelivered", "failed"),
			"at":                   oaStr("when it happened, RFC 3339"),
			"error":                oaStr("the gateway's reason, for the record"),
		}))},
		"responses": oaObj{
			"204": oaObj{"description": "recorded"},
			"400": oaObj{"description": "not a report that can be read", "content": oaJSONContent(oaTyped("object", ""))},
			"401": oaObj{"description": "wrong or missing token", "content": oaJSONContent(oaTyped("object", ""))},
		},
	}
}
