package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/orchestrator/campaign"
	"github.com/switchyard/switchyard/orchestrator/numinfo"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Paging of the v2_beta ExoPhone list (Twilio-style Page/PageSize).
const (
	numbersDefaultPageSize = 50
	numbersMaxPageSize     = 100
)

// routesNumbers serves what Exotel's clients ask about numbers: a
// number's metadata (v1 Numbers), and the account's ExoPhones as the
// v2_beta IncomingPhoneNumbers resource and the v2 incoming-phone-numbers
// one. Both name an ExoPhone by its sid: its E.164 digits without the +.
func (s *Server) routesNumbers(v1, v2beta, v2 routeGroup) {
	v1.GET("/Numbers/:number", s.v1NumberInfo)

	v2beta.GET("/IncomingPhoneNumbers", s.v2betaListNumbers)
	v2beta.POST("/IncomingPhoneNumbers", s.v2betaCreateNumber)
	v2beta.GET("/IncomingPhoneNumbers/:number", s.v2betaGetNumber)
	v2beta.PUT("/IncomingPhoneNumbers/:number", s.v2betaUpdateNumber)
	v2beta.DELETE("/IncomingPhoneNumbers/:number", s.v2betaDeleteNumber)

	v2.GET("/incoming-phone-numbers", s.v2ListNumbers)
	v2.GET("/incoming-phone-numbers/:number", s.v2GetNumber)
}

// numberInfoView is v1's Numbers object (§2.7 of the reference).
type numberInfoView struct {
	PhoneNumber  string `xml:"PhoneNumber" json:"PhoneNumber"`
	Circle       string `xml:"Circle" json:"Circle"`
	CircleName   string `xml:"CircleName" json:"CircleName"`
	Type         string `xml:"Type" json:"Type"`
	Operator     string `xml:"Operator" json:"Operator"`
	OperatorName string `xml:"OperatorName" json:"OperatorName"`
	DND          string `xml:"DND" json:"DND"`
}

// anyNumberParam reads the :number path parameter in any form Exotel's
// clients write numbers (numinfo.Parse): E.164, its digits, or an Indian
// national number.
func anyNumberParam(c echo.Context) (string, error) {
	raw, err := pathParam(c, "number")
	if err != nil {
		return "", err
	}
	n, ok := numinfo.Parse(raw)
	if !ok {
		return "", badRequest(fmt.Sprintf("%q is not a phone number: use E.164 (%%2B919876543210), its digits (919876543210) or an Indian number (09876543210)", raw))
	}
	return n, nil
}

// v1NumberInfo is GET /v1/Accounts/:sid/Numbers/:number[.json]: the
// number's type, circle and operator from the number series table, and
// whether it is on the account's do-not-call list.
func (s *Server) v1NumberInfo(c echo.Context) error {
	n, err := anyNumberParam(c)
	if err != nil {
		return err
	}
	info := s.opts.NumberInfo.Lookup(n)
	dnd := "No"
	if key, ok := store.ContactKey(n); ok {
		listed, err := s.store.DND().Listed(c.Request().Context(), account(c).SID, []string{key})
		if err != nil {
			return fmt.Errorf("number %s: %w", n, err)
		}
		if listed[key] {
			dnd = "Yes"
		}
	}
	return writeV1(c, http.StatusOK, "Numbers", numberInfoView{
		PhoneNumber: info.E164, Circle: info.Circle, CircleName: info.CircleName, Type: info.Type,
		Operator: info.Operator, OperatorName: info.OperatorName, DND: dnd,
	})
}

// incomingNumberView is an ExoPhone as v2_beta's IncomingPhoneNumbers
// and v2's incoming-phone-numbers show it.
type incomingNumberView struct {
	SID             string             `json:"sid"`
	AccountSID      string             `json:"account_sid"`
	PhoneNumber     string             `json:"phone_number"`
	FriendlyName    string             `json:"friendly_name"`
	PhoneNumberType string             `json:"phone_number_type"`
	Capabilities    numberCapabilities `json:"capabilities"`
	Country         string             `json:"country"`
	Region          string             `json:"region"`
	// VoiceURL is the assigned flow's URL, null when none.
	VoiceURL    *string `json:"voice_url"`
	SMSURL      *string `json:"sms_url"`
	DateCreated string  `json:"date_created"`
	DateUpdated string  `json:"date_updated"`
	URI         string  `json:"uri"`
}

type numberCapabilities struct {
	Voice bool `json:"voice"`
	SMS   bool `json:"sms"`
}

// exoPhoneSID is an ExoPhone's sid in these resources.
func exoPhoneSID(number string) string { return strings.TrimPrefix(number, "+") }

// countryOf names the country of the few calling codes the number table
// speaks of.
func countryOf(e164 string) string {
	switch {
	case strings.HasPrefix(e164, "+91"):
		return "IN"
	case strings.HasPrefix(e164, "+1"):
		return "US"
	}
	return ""
}

func (s *Server) incomingNumberView(c echo.Context, p *store.ExoPhone) incomingNumberView {
	info := s.opts.NumberInfo.Lookup(p.Number)
	v := incomingNumberView{
		SID:             exoPhoneSID(p.Number),
		AccountSID:      p.AccountSID,
		PhoneNumber:     p.Number,
		FriendlyName:    p.FriendlyName,
		PhoneNumberType: info.Type,
		Capabilities:    numberCapabilities{Voice: true, SMS: true},
		Country:         countryOf(p.Number),
		Region:          info.Circle,
		DateCreated:     s.v1Time(p.CreatedAt),
		DateUpdated:     s.v1Time(p.UpdatedAt),
		URI:             "/v2_beta/Accounts/" + p.AccountSID + "/IncomingPhoneNumbers/" + exoPhoneSID(p.Number),
	}
	if v.FriendlyName == "" {
		v.FriendlyName = p.Number
	}
	if p.FlowID != nil {
		u := exotelFlowURL(c, p.AccountSID, *p.FlowID)
		v.VoiceURL = &u
	}
	return v
}

// numbersPage is the v2_beta list (Twilio's paging fields).
type numbersPage struct {
	Page            int                  `json:"page"`
	PageSize        int                  `json:"page_size"`
	URI             string               `json:"uri"`
	FirstPageURI    string               `json:"first_page_uri"`
	NextPageURI     *string              `json:"next_page_uri"`
	PreviousPageURI *string              `json:"previous_page_uri"`
	Numbers         []incomingNumberView `json:"incoming_phone_numbers"`
}

// v2betaListNumbers is GET /v2_beta/Accounts/:sid/IncomingPhoneNumbers
// ?Page&PageSize (from page 0, 50 a page, at most 100), by number.
func (s *Server) v2betaListNumbers(c echo.Context) error {
	page, size := 0, numbersDefaultPageSize
	for name, dst := range map[string]*int{"Page": &page, "PageSize": &size} {
		v := c.QueryParam(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || (name == "PageSize" && (n < 1 || n > numbersMaxPageSize)) {
			if name == "PageSize" {
				return badRequest(fmt.Sprintf("PageSize must be an integer from 1 to %d", numbersMaxPageSize))
			}
			return badRequest("Page must be a non-negative integer")
		}
		*dst = n
	}
	acc := account(c)
	all, err := s.store.Numbers().List(c.Request().Context(), acc.SID)
	if err != nil {
		return fmt.Errorf("list ExoPhones: %w", err)
	}
	base := "/v2_beta/Accounts/" + acc.SID + "/IncomingPhoneNumbers"
	pageURI := func(p int) string { return fmt.Sprintf("%s?Page=%d&PageSize=%d", base, p, size) }
	out := numbersPage{Page: page, PageSize: size, URI: pageURI(page), FirstPageURI: pageURI(0),
		Numbers: []incomingNumberView{}}
	for _, p := range pageSlice(all, store.Page{Offset: page * size, Limit: size}) {
		out.Numbers = append(out.Numbers, s.incomingNumberView(c, &p))
	}
	if (page+1)*size < len(all) {
		next := pageURI(page + 1)
		out.NextPageURI = &next
	}
	if page > 0 {
		prev := pageURI(page - 1)
		out.PreviousPageURI = &prev
	}
	return writeJSON(c, http.StatusOK, out)
}

// loadIncomingNumber reads the account's ExoPhone the :number path
// parameter names.
func (s *Server) loadIncomingNumber(c echo.Context) (*store.ExoPhone, error) {
	return s.loadNumber(c, anyNumberParam)
}

// v2betaGetNumber is GET /v2_beta/Accounts/:sid/IncomingPhoneNumbers/:sid.
func (s *Server) v2betaGetNumber(c echo.Context) error {
	p, err := s.loadIncomingNumber(c)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, s.incomingNumberView(c, p))
}

// numberForm is the form of v2_beta's POST and PUT: VoiceUrl assigns a
// flow (empty unassigns, on PUT), FriendlyName renames. Inbound SMS flows
// do not exist here, so an SMSUrl is refused rather than ignored.
type numberForm struct {
	flowID       *string // set: assign; "" unassign
	friendlyName *string
}

func readNumberForm(c echo.Context, accountSID string) (url.Values, numberForm, error) {
	var f numberForm
	params, err := formParams(c)
	if err != nil {
		return nil, f, err
	}
	if v := params.Get("SMSUrl"); v != "" {
		return nil, f, badRequest("SMSUrl is not supported: Switchyard runs no flows for inbound SMS")
	}
	if _, ok := params["VoiceUrl"]; ok {
		id := ""
		if v := strings.TrimSpace(params.Get("VoiceUrl")); v != "" {
			if id, err = campaign.FlowIDOf(v, accountSID); err != nil {
				return nil, f, badRequest("VoiceUrl: " + err.Error())
			}
		}
		f.flowID = &id
	}
	if _, ok := params["FriendlyName"]; ok {
		name := params.Get("FriendlyName")
		if utf8.RuneCountInString(name) > maxFriendlyName {
			return nil, f, badRequest(fmt.Sprintf("FriendlyName is longer than %d characters", maxFriendlyName))
		}
		f.friendlyName = &name
	}
	return params, f, nil
}

// apply writes the form's changes to the number, in tx.
func (f numberForm) apply(c echo.Context, tx *store.DB, accountSID, number string) error {
	ctx := c.Request().Context()
	if f.friendlyName != nil {
		if err := tx.Numbers().Rename(ctx, accountSID, number, *f.friendlyName); err != nil {
			return storeFail(err, CodeNumberNotFound, "ExoPhone "+number)
		}
	}
	if f.flowID != nil {
		var id *string
		what := "ExoPhone " + number
		if *f.flowID != "" {
			id, what = f.flowID, "flow "+*f.flowID
		}
		if err := tx.Numbers().AssignFlow(ctx, accountSID, number, id); err != nil {
			return storeFail(err, CodeNotFound, what)
		}
	}
	return nil
}

// v2betaCreateNumber is POST /v2_beta/Accounts/:sid/IncomingPhoneNumbers
// (PhoneNumber required; VoiceUrl, FriendlyName): the number joins the
// account, with its flow, in one transaction.
func (s *Server) v2betaCreateNumber(c echo.Context) error {
	acc := account(c)
	params, f, err := readNumberForm(c, acc.SID)
	if err != nil {
		return err
	}
	raw := params.Get("PhoneNumber")
	if raw == "" {
		return badRequest("PhoneNumber is required")
	}
	number, ok := numinfo.Parse(raw)
	if !ok || !store.ValidE164(number) {
		return badRequest(fmt.Sprintf("PhoneNumber %q is not a phone number", raw))
	}
	if f.flowID != nil && *f.flowID == "" {
		f.flowID = nil
	}
	ctx := c.Request().Context()
	var created *store.ExoPhone
	err = s.store.InTx(ctx, func(tx *store.DB) error {
		if _, err := tx.Numbers().Create(ctx, acc.SID, number, ""); err != nil {
			return storeFail(err, CodeNumberNotFound, "ExoPhone "+number)
		}
		if err := f.apply(c, tx, acc.SID, number); err != nil {
			return err
		}
		var err error
		created, err = tx.Numbers().Get(ctx, acc.SID, number)
		return err
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "api: ExoPhone created", "account", acc.SID, "number", number)
	return writeJSON(c, http.StatusOK, s.incomingNumberView(c, created))
}

// v2betaUpdateNumber is PUT /v2_beta/Accounts/:sid/IncomingPhoneNumbers/:sid
// (VoiceUrl, FriendlyName; at least one).
func (s *Server) v2betaUpdateNumber(c echo.Context) error {
	acc := account(c)
	p, err := s.loadIncomingNumber(c)
	if err != nil {
		return err
	}
	_, f, err := readNumberForm(c, acc.SID)
	if err != nil {
		return err
	}
	if f.flowID == nil && f.friendlyName == nil {
		return badRequest("nothing to change: send VoiceUrl or FriendlyName")
	}
	ctx := c.Request().Context()
	var updated *store.ExoPhone
	err = s.store.InTx(ctx, func(tx *store.DB) error {
		if err := f.apply(c, tx, acc.SID, p.Number); err != nil {
			return err
		}
		var err error
		updated, err = tx.Numbers().Get(ctx, acc.SID, p.Number)
		return err
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "api: ExoPhone updated", "account", acc.SID, "number", p.Number)
	return writeJSON(c, http.StatusOK, s.incomingNumberView(c, updated))
}

// v2betaDeleteNumber is DELETE /v2_beta/Accounts/:sid/IncomingPhoneNumbers/:sid:
// the account releases the number (its calls keep their records).
func (s *Server) v2betaDeleteNumber(c echo.Context) error {
	acc := account(c)
	p, err := s.loadIncomingNumber(c)
	if err != nil {
		return err
	}
	if err := s.store.Numbers().Delete(c.Request().Context(), acc.SID, p.Number); err != nil {
		return storeFail(err, CodeNumberNotFound, "ExoPhone "+p.Number)
	}
	s.log.InfoContext(c.Request().Context(), "api: ExoPhone released", "account", acc.SID, "number", p.Number)
	// 200 with the number as it was: clients of this surface parse every
	// answer as JSON.
	return writeJSON(c, http.StatusOK, s.incomingNumberView(c, p))
}

// v2ListNumbers is GET /v2/accounts/:sid/incoming-phone-numbers
// ?offset&limit, in the v2 envelope.
func (s *Server) v2ListNumbers(c echo.Context) error {
	return listNumbers(c, s, s.incomingNumberView)
}

// v2GetNumber is GET /v2/accounts/:sid/incoming-phone-numbers/:sid.
func (s *Server) v2GetNumber(c echo.Context) error {
	p, err := s.loadIncomingNumber(c)
	if err != nil {
		return err
	}
	return writeEnvelope(c, http.StatusOK, nil, success(http.StatusOK, "incoming_phone_number", s.incomingNumberView(c, p)))
}
