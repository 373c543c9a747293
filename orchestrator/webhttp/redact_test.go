package webhttp

import (
	"errors"
	"fmt"
	"net/url"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://crm.example/connect?CallSid=abc&From=%2B9180", "https://crm.example/connect?CallSid=abc&From=%2B9180"},
		{"https://user:pass@crm.example/x", "https://user:xxxxx@crm.example/x"},
		{"https://ghp_tok3n@crm.example/x", "https://xxxxx@crm.example/x"},
		{"https://crm.example/x?token=s3cr3t&CallSid=abc", "https://crm.example/x?token=xxxxx&CallSid=abc"},
		{"https://crm.example/x?A=1&ACCESS_TOKEN=t&api_key=k&apiKey=k2&sig=s&Signature=s2&auth=a&secret=z&password=p&key=k3&b=2",
			"https://crm.example/x?A=1&ACCESS_TOKEN=xxxxx&api_key=xxxxx&apiKey=xxxxx&sig=xxxxx&Signature=xxxxx&auth=xxxxx&secret=xxxxx&password=xxxxx&key=xxxxx&b=2"},
		{"https://s3.example/o?X-Amz-Credential=AK%2F1&X-Amz-Signature=ab&X-Amz-Expires=60",
			"https://s3.example/o?X-Amz-Credential=xxxxx&X-Amz-Signature=xxxxx&X-Amz-Expires=60"},
		{"https://crm.example/x?client_secret=1&oauth_token=2&sessionToken=3&keyword=on&author=me",
			"https://crm.example/x?client_secret=xxxxx&oauth_token=xxxxx&sessionToken=xxxxx&keyword=on&author=me"},
		{"https://crm.example/x?token=&token", "https://crm.example/x?token=&token"},
		{"https://crm.example/cb#access_token=t&state=1", "https://crm.example/cb#access_token=xxxxx&state=1"},
		{"https://u:p@crm.example/x?key=v", "https://u:xxxxx@crm.example/x?key=xxxxx"},
		{"http://[::1]:8080/x?Token=abc", "http://[::1]:8080/x?Token=xxxxx"},
		{"not a url at all", "not a url at all"},
		{"http://bad%zzhost/?token=x", "[unparsable URL]"},
		{"", ""},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactURLs(t *testing.T) {
	// The error of a request, as net/http words it (the password already
	// starred), wrapped as the passthru client does.
	raw := "https://user:pass@crm.example/x?token=s3cr3t&CallSid=abc"
	u, _ := url.Parse(raw)
	reqErr := &url.Error{Op: "Get", URL: u.Redacted(), Err: errors.New("dial tcp 127.0.0.1:9: egress denied")}
	err := fmt.Errorf("passthru: GET %s: %w", raw, reqErr)
	want := `passthru: GET https://user:xxxxx@crm.example/x?token=xxxxx&CallSid=abc: Get "https://user:xxxxx@crm.example/x?token=xxxxx&CallSid=abc": dial tcp 127.0.0.1:9: egress denied`
	if got := RedactURLs(err.Error()); got != want {
		t.Errorf("RedactURLs\n = %s\nwant %s", got, want)
	}
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"nothing to see", "nothing to see"},
		{"HTTP status 500", "HTTP status 500"},
		{"see HTTPS://h/x?sig=1, then (http://h/?key=2).", "see https://h/x?sig=xxxxx, then (http://h/?key=xxxxx)."},
	} {
		if got := RedactURLs(tc.in); got != tc.want {
			t.Errorf("RedactURLs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
