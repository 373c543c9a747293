package notify_test

import (
	"context"
	"errors"
	"github.com/switchyard/switchyard/orchestrator/notify/smtptest"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/orchestrator/call"
	"github.com/switchyard/switchyard/orchestrator/notify"
	"github.com/switchyard/switchyard/orchestrator/sms"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// fixture is a store with one account and one of its calls, and that
// call's Info as the runtime hands it to messengers.
type fixture struct {
	db   *store.DB
	info *call.Info
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	db := storetest.NewDB(t)
	a, _, err := db.Accounts().CreateWithSID(ctx, "acme1", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Call{AccountSID: a.SID, Direction: store.DirectionInbound, From: "+15550109999",
		To: "+918047000001", PhoneNumber: "+918047000001", Status: store.InProgress}
	if err := db.Calls().Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, info: &call.Info{CallSid: c.SID, AccountSID: a.SID}}
}

// sends runs a flow's start on the fixture's call and returns the Sends it
// emits: the templates rendered by flows, as the runtime receives them.
func (f *fixture) sends(t *testing.T, flowJSON string) []flows.Send {
	t.Helper()
	fl, err := flows.Parse([]byte(flowJSON))
	if err != nil {
		t.Fatal(err)
	}
	started := flows.Started{
		At: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		Call: flows.CallInfo{CallSid: f.info.CallSid, From: "+15550109999", To: "+918047000001",
			Direction: "incoming", ExoPhone: "+918047000001", CustomField: "order-17", FlowID: "support"},
	}
	s, cmds := flows.Step(fl, flows.State{}, started)
	f.info.State = s
	var out []flows.Send
	for _, c := range cmds {
		if m, ok := c.(flows.Send); ok {
			out = append(out, m)
		}
	}
	return out
}

func (f *fixture) messages(t *testing.T) []store.Message {
	t.Helper()
	list, err := f.db.Messages().ByCall(t.Context(), f.info.AccountSID, f.info.CallSid)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func receive(t *testing.T, got <-chan smtptest.Message) smtptest.Message {
	t.Helper()
	select {
	case c := <-got:
		return c
	case <-t.Context().Done():
		t.Fatal("no message reached the SMTP server")
		return smtptest.Message{}
	}
}

const emailFlow = `{"start":"e","applets":{
 "e":{"type":"email","config":{"to":["ops@acme.example","Bossé <boss@acme.example>"],
  "subject":"Appel manqué {{.CallSid}} de {{.From}}",
  "body":"Call {{.CallSid}} from {{.From}} to {{.To}} at {{.StartTime}}\nfield {{.CustomField}} — ₹ price = 10\n.\nflow {{.FlowID}}"},
  "outputs":{"next":"h"}},
 "h":{"type":"hangup"}}}`

func TestEmailOverSMTP(t *testing.T) {
	t.Parallel()
	f := setup(t)
	srv := smtptest.New(t, nil, false)
	sender := &notify.SMTPSender{Addr: srv.Addr, From: "Switchyard <calls@switchyard.example>",
		StartTLS: notify.StartTLSNone, HelloName: "orchestrator.test", Timeout: 10 * time.Second}
	m := notify.New(f.db, sender, nil, nil)

	sends := f.sends(t, emailFlow)
	if len(sends) != 1 {
		t.Fatalf("flow emitted %d sends", len(sends))
	}
	if err := m.Send(t.Context(), f.info, sends[0]); err != nil {
		t.Fatal(err)
	}
	got := receive(t, srv.Got)
	sid := f.info.CallSid

	if got.Hello != "orchestrator.test" || got.TLS || got.Auth != "" {
		t.Errorf("session: hello %q tls %v auth %q", got.Hello, got.TLS, got.Auth)
	}
	if !strings.HasPrefix(got.From, "FROM:<calls@switchyard.example>") {
		t.Errorf("MAIL %q", got.From)
	}
	if strings.Join(got.To, " ") != "TO:<ops@acme.example> TO:<boss@acme.example>" {
		t.Errorf("RCPT %q", got.To)
	}
	msg, err := mail.ReadMessage(strings.NewReader(got.Data))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, got.Data)
	}
	h := msg.Header
	if from, err := h.AddressList("From"); err != nil || len(from) != 1 || from[0].Address != "calls@switchyard.example" || from[0].Name != "Switchyard" {
		t.Errorf("From %q: %v %v", h.Get("From"), from, err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 2 || to[0].Address != "ops@acme.example" || to[1].Address != "boss@acme.example" || to[1].Name != "Bossé" {
		t.Errorf("To %q: %v %v", h.Get("To"), to, err)
	}
	rawSubject := h.Get("Subject")
	if !strings.HasPrefix(rawSubject, "=?utf-8?q?") {
		t.Errorf("Subject not RFC 2047 encoded: %q", rawSubject)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(rawSubject)
	if want := "Appel manqué " + sid + " de +15550109999"; err != nil || subject != want {
		t.Errorf("Subject = %q (%v), want %q", subject, err, want)
	}
	if d, err := h.Date(); err != nil || time.Since(d) > time.Hour || time.Until(d) > time.Hour {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@switchyard.example>") || len(id) < 20 {
		t.Errorf("Message-ID %q", id)
	}
	if h.Get("MIME-Version") != "1.0" || h.Get("Content-Transfer-Encoding") != "quoted-printable" {
		t.Errorf("MIME headers %q %q", h.Get("MIME-Version"), h.Get("Content-Transfer-Encoding"))
	}
	if mt, params, err := mime.ParseMediaType(h.Get("Content-Type")); err != nil || mt != "text/plain" || params["charset"] != "utf-8" {
		t.Errorf("Content-Type %q", h.Get("Content-Type"))
	}
	if h.Get("X-Switchyard-Call-Sid") != sid {
		t.Errorf("X-Switchyard-Call-Sid %q", h.Get("X-Switchyard-Call-Sid"))
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	wantBody := "Call " + sid + " from +15550109999 to +918047000001 at 2026-11-23 10:00:00\r\n" +
		"field order-17 — ₹ price = 10\r\n.\r\nflow support"
	if strings.ReplaceAll(strings.TrimRight(string(body), "\r\n"), "\r\n", "\n") != strings.ReplaceAll(wantBody, "\r\n", "\n") {
		t.Errorf("body = %q\nwant %q", body, wantBody)
	}

	list := f.messages(t)
	if len(list) != 1 {
		t.Fatalf("recorded %d messages", len(list))
	}
	r := list[0]
	if r.Status != store.MessageSent || r.Error != "" || r.Provider != "smtp" || r.Channel != "email" ||
		r.Applet != "e" || r.Recipients != "ops@acme.example,Bossé <boss@acme.example>" ||
		r.Subject != sends[0].Subject || r.Body != sends[0].Body {
		t.Errorf("record = %+v", r)
	}
}

func TestEmailRejectedRecipient(t *testing.T) {
	t.Parallel()
	f := setup(t)
	srv := smtptest.New(t, nil, true)
	m := notify.New(f.db, &notify.SMTPSender{Addr: srv.Addr, From: "calls@switchyard.example", StartTLS: notify.StartTLSNone}, nil, nil)

	err := m.Send(t.Context(), f.info, flows.Send{Applet: "e", Channel: flows.ChannelEmail,
		To: []string{"nobody@acme.example"}, Subject: "s", Body: "b"})
	if err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("Send = %v, want the 550", err)
	}
	select {
	case c := <-srv.Got:
		t.Errorf("a message was accepted: %+v", c)
	default:
	}
	list := f.messages(t)
	if len(list) != 1 || list[0].Status != store.MessageFailed || list[0].Provider != "smtp" ||
		!strings.Contains(list[0].Error, "550") || !strings.Contains(list[0].Error, "nobody@acme.example") {
		t.Errorf("records = %+v", list)
	}
}

func TestEmailStartTLSAndAuth(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := smtptest.TLS(t)
	srv := smtptest.New(t, serverTLS, false)
	sender := &notify.SMTPSender{Addr: srv.Addr, From: "calls@switchyard.example",
		Username: "user", Password: "secret", TLSConfig: clientTLS} // StartTLS defaults to require
	if err := sender.Send(t.Context(), notify.Email{To: []string{"ops@acme.example"}, Subject: "Plain subject", Body: "hi"}); err != nil {
		t.Fatal(err)
	}
	got := receive(t, srv.Got)
	if !got.TLS || got.Auth != "\x00user\x00secret" {
		t.Errorf("tls %v auth %q", got.TLS, got.Auth)
	}
	msg, err := mail.ReadMessage(strings.NewReader(got.Data))
	if err != nil {
		t.Fatal(err)
	}
	if s := msg.Header.Get("Subject"); s != "Plain subject" {
		t.Errorf("ASCII subject encoded: %q", s)
	}
}

func TestEmailStartTLSRequired(t *testing.T) {
	t.Parallel()
	srv := smtptest.New(t, nil, false) // offers no STARTTLS
	sender := &notify.SMTPSender{Addr: srv.Addr, From: "calls@switchyard.example"}
	err := sender.Send(t.Context(), notify.Email{To: []string{"ops@acme.example"}, Body: "hi"})
	if !errors.Is(err, notify.ErrNoStartTLS) {
		t.Fatalf("Send = %v, want ErrNoStartTLS", err)
	}
	// if-offered goes on in clear text.
	sender.StartTLS = notify.StartTLSIfOffered
	if err := sender.Send(t.Context(), notify.Email{To: []string{"ops@acme.example"}, Body: "hi"}); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, srv.Got); got.TLS {
		t.Error("TLS without STARTTLS?")
	}
}

func TestEmailContextCancelled(t *testing.T) {
	t.Parallel()
	srv := smtptest.New(t, nil, false)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	sender := &notify.SMTPSender{Addr: srv.Addr, From: "calls@switchyard.example", StartTLS: notify.StartTLSNone}
	err := sender.Send(ctx, notify.Email{To: []string{"ops@acme.example"}, Body: "hi"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send = %v, want context.Canceled", err)
	}
}

func TestEmailBadAddresses(t *testing.T) {
	t.Parallel()
	sender := &notify.SMTPSender{Addr: "127.0.0.1:1", From: "calls@switchyard.example", StartTLS: notify.StartTLSNone}
	for _, to := range []string{"not an address", "a@b.example\r\nBcc: x@evil.example"} {
		if err := sender.Send(t.Context(), notify.Email{To: []string{to}, Body: "hi"}); err == nil {
			t.Errorf("recipient %q accepted", to)
		}
	}
	bad := &notify.SMTPSender{Addr: "127.0.0.1:1", From: "nope"}
	if err := bad.Send(t.Context(), notify.Email{To: []string{"ops@acme.example"}}); err == nil {
		t.Error("bad From accepted")
	}
}

func TestParseStartTLSPolicy(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]notify.StartTLSPolicy{"": notify.StartTLSRequire, "Require": notify.StartTLSRequire,
		"if-offered": notify.StartTLSIfOffered, "none": notify.StartTLSNone} {
		if got, err := notify.ParseStartTLSPolicy(in); err != nil || got != want {
			t.Errorf("ParseStartTLSPolicy(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := notify.ParseStartTLSPolicy("maybe"); err == nil {
		t.Error("maybe accepted")
	}
}

const smsFlow = `{"start":"s","applets":{
 "s":{"type":"sms","config":{"to":"caller","body":"Sorry we missed you, call {{.CallSid}} ({{.CustomField}})"},"outputs":{"next":"h"}},
 "h":{"type":"hangup"}}}`

// TestSMSQueued: an applet's SMS goes through the SMS path: queued with
// its call's SID, from the call's ExoPhone, and sent by the sender like
// an API message.
func TestSMSQueued(t *testing.T) {
	t.Parallel()
	f := setup(t)
	final := make(chan *store.SMSMessage, 4)
	sender, err := sms.New(f.db, sms.Config{Provider: sms.TestNetwork{}, PollInterval: time.Hour,
		OnFinal: func(m *store.SMSMessage) { final <- m }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := notify.New(f.db, nil, sender, nil)

	sends := f.sends(t, smsFlow)
	if len(sends) != 1 {
		t.Fatalf("flow emitted %d sends", len(sends))
	}
	if err := m.Send(t.Context(), f.info, sends[0]); err != nil {
		t.Fatal(err)
	}
	queued, err := f.db.SMS().ByCall(t.Context(), f.info.AccountSID, f.info.CallSid)
	if err != nil {
		t.Fatal(err)
	}
	body := "Sorry we missed you, call " + f.info.CallSid + " (order-17)"
	if len(queued) != 1 || queued[0].To != "+15550109999" || queued[0].From != "+918047000001" || queued[0].Body != body ||
		queued[0].Status != store.SMSQueued || queued[0].CallSID == nil || *queued[0].CallSID != f.info.CallSid {
		t.Fatalf("queued %+v", queued)
	}
	list := f.messages(t)
	if len(list) != 1 || list[0].Status != store.MessageSent || list[0].Provider != "testnet" || list[0].Channel != "sms" ||
		list[0].Recipients != "+15550109999" || list[0].Body != body {
		t.Errorf("records = %+v", list)
	}

	// The worker sends it (the test network delivers +15550109999).
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sender.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case got := <-final:
		if got.SID != queued[0].SID || got.Status != store.SMSSent || got.DetailedStatusCode != 20005 || got.Attempts != 1 {
			t.Errorf("sent %+v", got)
		}
	case <-t.Context().Done():
		t.Fatal("never sent")
	}
}

// testnet is a sender on the test network whose worker does not run.
func testnet(t *testing.T, f *fixture) *sms.Sender {
	s, err := sms.New(f.db, sms.Config{Provider: sms.TestNetwork{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMissingProvider(t *testing.T) {
	t.Parallel()
	f := setup(t)
	m := notify.New(f.db, nil, nil, nil)
	for _, s := range []flows.Send{
		{Applet: "e", Channel: flows.ChannelEmail, To: []string{"ops@acme.example"}, Subject: "s", Body: "b"},
		{Applet: "s", Channel: flows.ChannelSMS, To: []string{"+15550100001"}, Body: "b"},
		{Applet: "x", Channel: "fax", To: []string{"+15550100001"}, Body: "b"},
	} {
		if err := m.Send(t.Context(), f.info, s); !errors.Is(err, notify.ErrNoProvider) {
			t.Errorf("%s: Send = %v, want ErrNoProvider", s.Channel, err)
		}
	}
	list := f.messages(t)
	if len(list) != 3 {
		t.Fatalf("recorded %d messages", len(list))
	}
	for _, r := range list {
		if r.Status != store.MessageFailed || r.Provider != "" || !strings.Contains(r.Error, "no provider") {
			t.Errorf("record = %+v", r)
		}
	}
}

func TestNoRecipients(t *testing.T) {
	t.Parallel()
	f := setup(t)
	m := notify.New(f.db, nil, testnet(t, f), nil)
	err := m.Send(t.Context(), f.info, flows.Send{Applet: "s", Channel: flows.ChannelSMS, To: []string{" "}, Body: "b"})
	if !errors.Is(err, notify.ErrNoRecipients) {
		t.Fatalf("Send = %v, want ErrNoRecipients", err)
	}
	if list := f.messages(t); len(list) != 1 || list[0].Status != store.MessageFailed {
		t.Errorf("records = %+v", list)
	}
}

func TestRecordFailureReturned(t *testing.T) {
	t.Parallel()
	f := setup(t)
	m := notify.New(f.db, nil, testnet(t, f), nil)
	// A call the store does not know: sent, but not recorded.
	err := m.Send(t.Context(), &call.Info{CallSid: store.NewSID(), AccountSID: f.info.AccountSID},
		flows.Send{Applet: "s", Channel: flows.ChannelSMS, To: []string{"+15550100001"}, Body: "b"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Send = %v, want the record's ErrNotFound", err)
	}
}
