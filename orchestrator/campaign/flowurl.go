package campaign

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// MaxURLLen bounds URLs a campaign or a call request carries.
const MaxURLLen = 2048

// ErrFlowURL: a flow URL is not in one of Exotel's two forms.
var ErrFlowURL = errors.New("not a flow URL")

// FlowIDOf extracts the flow (Exotel "app") id from a flow URL, in the
// current form http(s)://<host>/<AccountSid>/exoml/start_voice/<app_id>
// (the account must be accountSID) or the legacy
// http(s)://<host>/exoml/start/<app_id>. The host is not checked: clients
// send my.exotel.com, my.in.exotel.com or our own. Errors wrap ErrFlowURL
// and say what was expected.
func FlowIDOf(raw, accountSID string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || len(raw) > MaxURLLen ||
		(!strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) {
		return "", fmt.Errorf("%q: want http(s)://<host>/%s/exoml/start_voice/<flow id>: %w", raw, accountSID, ErrFlowURL)
	}
	seg := strings.Split(strings.Trim(u.Path, "/"), "/")
	switch {
	case len(seg) == 4 && seg[1] == "exoml" && seg[2] == "start_voice" && seg[3] != "":
		if seg[0] != accountSID {
			return "", fmt.Errorf("%q names account %s, not %s: %w", raw, seg[0], accountSID, ErrFlowURL)
		}
		return seg[3], nil
	case len(seg) == 3 && seg[0] == "exoml" && seg[1] == "start" && seg[2] != "":
		return seg[2], nil
	}
	return "", fmt.Errorf("%q: want http(s)://<host>/%s/exoml/start_voice/<flow id>: %w", raw, accountSID, ErrFlowURL)
}
