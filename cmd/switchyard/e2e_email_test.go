package main

import (
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/notify/smtptest"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// TestAfterHoursEmailOverSMTP: a caller leaves a voicemail on the demo's
// After-Hours Flow and the email applet's message reaches an SMTP server,
// rendered with the call's fields; the call's message log says it was
// sent.
func TestAfterHoursEmailOverSMTP(t *testing.T) {
	t.Parallel()
	databases(t, func(t *testing.T, dsn func(*testing.T) string) {
		mail := smtptest.New(t, nil, false)
		s := startServe(t, dsn(t), func(c *Config) {
			c.SMTPAddr, c.SMTPFrom, c.SMTPStartTLS = mail.Addr, "switchyard@acme.example", "none"
		})
		const caller = "+15550109301"
		res := agentsCall(t, s.esl, testphone.Script{From: caller, To: "+15550000200"})
		var msg smtptest.Message
		select {
		case msg = <-mail.Got:
		case <-time.After(30 * time.Second):
			t.Fatal("no email reached the SMTP server in 30s")
		}
		if !strings.Contains(msg.From, "<switchyard@acme.example>") || len(msg.To) != 1 || !strings.Contains(msg.To[0], "<support@acme.example>") {
			t.Errorf("envelope from %q to %v", msg.From, msg.To)
		}
		head, qp, _ := strings.Cut(msg.Data, "\n\n")
		text, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(qp)))
		if err != nil {
			t.Fatal(err)
		}
		recording := "/v1/Accounts/demo/Recordings/re" + res.CallSid[:24]
		for _, want := range []string{"Subject: After-hours voicemail from " + caller, "X-Switchyard-Call-Sid: " + res.CallSid,
			"Caller " + caller + " called +15550000200 at ", recording} {
			if !strings.Contains(head+"\n"+string(text), want) {
				t.Errorf("email lacks %q:\n%s\n\n%s", want, head, text)
			}
		}

		// The message log of the call, through the API.
		// The message's row is written once the SMTP exchange is over, off
		// the call's path, and nothing announces it: a bounded poll.
		var (
			env struct {
				Response struct {
					Messages []struct {
						Channel    string   `json:"channel"`
						Recipients []string `json:"recipients"`
						Status     string   `json:"status"`
						Provider   string   `json:"provider"`
					} `json:"messages"`
				} `json:"response"`
			}
			body []byte
		)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var code int
			code, body, _ = s.do("GET", "/v2/accounts/demo/calls/"+res.CallSid+"/messages", nil)
			if err := json.Unmarshal(body, &env); err != nil || code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			if len(env.Response.Messages) > 0 || time.Now().After(deadline) {
				break
			}
		}
		m := env.Response.Messages
		if len(m) != 1 || m[0].Channel != "email" || m[0].Status != "sent" || strings.Join(m[0].Recipients, ",") != "support@acme.example" {
			t.Errorf("messages %s", body)
		}
	})
}
