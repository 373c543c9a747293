package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/store"
)

// starterFlow is the draft of a flow made in the console: one greeting,
// a valid flow to build on.
const starterFlow = `{"start":"welcome","applets":{"welcome":{"type":"greeting","name":"Welcome",` +
	`"config":{"prompt":{"text":"Thank you for calling."}}}},"layout":{"welcome":{"x":40,"y":40}}}`

// builderBoot is what the builder's script starts from, put in the page
// as JSON: the flow and its draft, the applet schemas to build forms
// from, the account's other flows (transfer targets) and ExoPhones, and
// where its requests go.
type builderBoot struct {
	Flow      builderFlow     `json:"flow"`
	Schemas   json.RawMessage `json:"schemas"`
	Flows     []flowRef       `json:"flows"`
	ExoPhones []phoneRef      `json:"exophones"`
	// API is the prefix of the management API as the session's account
	// (see Deps.ManageAPI); Tests where test calls are placed ("" when
	// this server cannot place them).
	API   string `json:"api"`
	Tests string `json:"tests"`
	CSRF  string `json:"csrf"`
}

type builderFlow struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	LiveVersion int             `json:"live_version"`
	Document    json.RawMessage `json:"document"`
}

type flowRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type phoneRef struct {
	Number       string `json:"number"`
	FriendlyName string `json:"friendly_name"`
	FlowID       string `json:"flow_id"`
}

// builderView is the builder page's data.
type builderView struct {
	Flow     store.Flow
	Versions []store.FlowVersion
	Phones   []phoneRef
	// Boot is builderBoot as JSON, for the page's data attribute.
	Boot    string
	Notice  string
	CanTest bool
}

// newFlow makes a flow from the flows page's form (its name) with a
// one-greeting draft, and opens it in the builder.
func (cs *console) newFlow(c echo.Context) error {
	s := sessionFrom(c)
	name := strings.TrimSpace(c.FormValue("name"))
	switch {
	case name == "":
		return echo.NewHTTPError(http.StatusBadRequest, "A flow needs a name.")
	case utf8.RuneCountInString(name) > store.MaxFlowName:
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("A flow's name has at most %d characters.", store.MaxFlowName))
	}
	f, err := cs.d.Store.Flows().Create(c.Request().Context(), s.Account, name, []byte(starterFlow))
	if err != nil {
		return fmt.Errorf("console: new flow: %w", err)
	}
	cs.log.InfoContext(c.Request().Context(), "console: flow created", "account", s.Account, "flow", f.ID)
	return c.Redirect(http.StatusSeeOther, Prefix+"/flows/"+f.ID)
}

// builder is a flow's page: the flow builder, its versions and the
// ExoPhones that may run it.
func (cs *console) builder(c echo.Context) error {
	s := sessionFrom(c)
	ctx := c.Request().Context()
	f, versions, err := cs.flowVersions(c)
	if err != nil {
		return err
	}
	all, _, err := cs.d.Store.Flows().List(ctx, s.Account, store.Page{Limit: flowsMax})
	if err != nil {
		return fmt.Errorf("console: flows: %w", err)
	}
	phones, err := cs.d.Store.Numbers().List(ctx, s.Account)
	if err != nil {
		return fmt.Errorf("console: ExoPhones: %w", err)
	}
	boot := builderBoot{
		Flow:    builderFlow{ID: f.ID, Name: f.Name, LiveVersion: f.LiveVersion, Document: json.RawMessage(f.Draft)},
		Schemas: flows.SchemasJSON(),
		API:     Prefix + "/api/",
		CSRF:    cs.keys.csrfToken(s),
	}
	if !json.Valid(boot.Flow.Document) {
		boot.Flow.Document = json.RawMessage(`{}`)
	}
	if cs.d.TestCall != nil {
		boot.Tests = Prefix + "/flows/" + f.ID + "/tests"
	}
	for _, o := range all {
		if o.ID != f.ID {
			boot.Flows = append(boot.Flows, flowRef{ID: o.ID, Name: o.Name})
		}
	}
	for _, p := range phones {
		ref := phoneRef{Number: p.Number, FriendlyName: p.FriendlyName}
		if p.FlowID != nil {
			ref.FlowID = *p.FlowID
		}
		boot.ExoPhones = append(boot.ExoPhones, ref)
	}
	raw, err := json.Marshal(boot)
	if err != nil {
		return fmt.Errorf("console: builder data: %w", err)
	}
	v := builderView{Flow: *f, Versions: versions, Phones: boot.ExoPhones, Boot: string(raw), CanTest: cs.d.TestCall != nil}
	if n, err := strconv.Atoi(c.QueryParam("published")); err == nil && n > 0 {
		v.Notice = fmt.Sprintf("Version %d is published: new calls run it.", n)
	}
	return cs.page(c, "flow", f.Name, "flows", v)
}

// flowVersions reads the session's flow named in the path (:id) and its
// published versions, oldest first.
func (cs *console) flowVersions(c echo.Context) (*store.Flow, []store.FlowVersion, error) {
	s := sessionFrom(c)
	ctx := c.Request().Context()
	f, err := cs.d.Store.Flows().Get(ctx, s.Account, c.Param("id"))
	if err != nil {
		return nil, nil, storeErr(err, "such flow")
	}
	versions, err := cs.d.Store.Flows().Versions(ctx, s.Account, f.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("console: flow versions: %w", err)
	}
	return f, versions, nil
}

// diffView is the version comparison page's data.
type diffView struct {
	Flow     store.Flow
	From, To string // "3", "draft"
	Versions []store.FlowVersion
	Changes  []flows.Change
}

// flowDiff compares two versions of a flow (or a version and the draft):
// ?from=N&to=M|draft; without from, the live version (or nothing) against
// the draft.
func (cs *console) flowDiff(c echo.Context) error {
	s := sessionFrom(c)
	ctx := c.Request().Context()
	f, versions, err := cs.flowVersions(c)
	if err != nil {
		return err
	}
	from, to := c.QueryParam("from"), c.QueryParam("to")
	if from == "" {
		from = "none"
		if f.LiveVersion > 0 {
			from = strconv.Itoa(f.LiveVersion)
		}
	}
	if to == "" {
		to = "draft"
	}
	doc := func(which string) ([]byte, error) {
		switch which {
		case "draft":
			return []byte(f.Draft), nil
		case "none":
			return nil, nil
		}
		n, err := strconv.Atoi(which)
		if err != nil || n < 1 {
			return nil, echo.NewHTTPError(http.StatusBadRequest, "Compare a version number, \"draft\" or \"none\".")
		}
		v, err := cs.d.Store.Flows().Version(ctx, s.Account, f.ID, n)
		if err != nil {
			return nil, storeErr(err, fmt.Sprintf("version %d of this flow", n))
		}
		return []byte(v.Document), nil
	}
	a, err := doc(from)
	if err != nil {
		return err
	}
	b, err := doc(to)
	if err != nil {
		return err
	}
	changes, err := flows.Diff(a, b)
	if err != nil {
		return fmt.Errorf("console: compare %s with %s: %w", from, to, err)
	}
	return cs.page(c, "flowdiff", f.Name+": changes", "flows",
		diffView{Flow: *f, From: from, To: to, Versions: versions, Changes: changes})
}

// api serves the builder's requests to the management API (see
// Deps.ManageAPI): /console/api/<path under the account>.
func (cs *console) api(c echo.Context) error {
	if cs.d.ManageAPI == nil {
		return echo.ErrNotFound
	}
	rest := strings.TrimPrefix(c.Request().URL.EscapedPath(), Prefix+"/api/")
	if rest == c.Request().URL.EscapedPath() {
		return echo.ErrNotFound
	}
	return cs.d.ManageAPI(c, sessionFrom(c).Account, rest)
}
