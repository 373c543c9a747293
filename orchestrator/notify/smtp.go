package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"
)

// StartTLSPolicy says whether SMTPSender upgrades the connection.
type StartTLSPolicy string

// StartTLS policies. The zero value is StartTLSRequire.
const (
	// StartTLSRequire fails unless the server offers STARTTLS.
	StartTLSRequire StartTLSPolicy = "require"
	// StartTLSIfOffered upgrades when the server offers it, else sends in
	// clear text.
	StartTLSIfOffered StartTLSPolicy = "if-offered"
	// StartTLSNone never upgrades (a local relay or test server).
	StartTLSNone StartTLSPolicy = "none"
)

// ParseStartTLSPolicy reads a policy from configuration ("" is require).
func ParseStartTLSPolicy(s string) (StartTLSPolicy, error) {
	switch p := StartTLSPolicy(strings.ToLower(strings.TrimSpace(s))); p {
	case "":
		return StartTLSRequire, nil
	case StartTLSRequire, StartTLSIfOffered, StartTLSNone:
		return p, nil
	}
	return "", fmt.Errorf("smtp starttls policy %q: want require, if-offered or none", s)
}

// ErrNoStartTLS: the policy requires STARTTLS and the server does not
// offer it.
var ErrNoStartTLS = errors.New("smtp server does not offer STARTTLS")

// defaultSMTPTimeout bounds a delivery when neither Timeout nor the
// context does.
const defaultSMTPTimeout = 30 * time.Second

// SMTPSender sends email to an SMTP submission server with net/smtp. The
// connection is dialled, and every exchange bounded, with the earlier of
// ctx's deadline and Timeout. With Username set it authenticates with
// AUTH PLAIN, which net/smtp only allows over TLS or to localhost.
type SMTPSender struct {
	// Addr is the server's host:port (e.g. smtp.example.com:587).
	Addr string
	// From is the sender, "addr@example.com" or "Name <addr@example.com>".
	From               string
	Username, Password string
	// StartTLS defaults to StartTLSRequire.
	StartTLS StartTLSPolicy
	// TLSConfig, if set, is used for STARTTLS (ServerName defaults to
	// Addr's host).
	TLSConfig *tls.Config
	// Timeout bounds one delivery (default 30 s); ctx may bound it more.
	Timeout time.Duration
	// HelloName is the EHLO name (default "localhost", as net/smtp).
	HelloName string
}

// Name implements EmailSender.
func (*SMTPSender) Name() string { return "smtp" }

// Send implements EmailSender: one message to all of e.To.
func (s *SMTPSender) Send(ctx context.Context, e Email) error {
	from, err := mail.ParseAddress(s.From)
	if err != nil {
		return fmt.Errorf("smtp: from %q: %w", s.From, err)
	}
	to := make([]*mail.Address, 0, len(e.To))
	for _, r := range e.To {
		a, err := mail.ParseAddress(r)
		if err != nil {
			return fmt.Errorf("smtp: recipient %q: %w", r, err)
		}
		to = append(to, a)
	}
	if len(to) == 0 {
		return fmt.Errorf("smtp: %w", ErrNoRecipients)
	}
	msg := buildMessage(from, to, e, time.Now())

	timeout := s.Timeout
	if timeout <= 0 {
		timeout = defaultSMTPTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := s.deliver(ctx, from.Address, to, msg); err != nil {
		if cerr := context.Cause(ctx); cerr != nil {
			return fmt.Errorf("smtp: %w (%w)", err, cerr)
		}
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}

// deliver runs one SMTP transaction.
func (s *SMTPSender) deliver(ctx context.Context, from string, to []*mail.Address, msg []byte) error {
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", s.Addr, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Cancellation interrupts whatever exchange is under way.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	defer func() { _ = c.Close() }()
	if s.HelloName != "" {
		if err := c.Hello(s.HelloName); err != nil {
			return fmt.Errorf("ehlo: %w", err)
		}
	}

	policy := s.StartTLS
	if policy == "" {
		policy = StartTLSRequire
	}
	if policy != StartTLSNone {
		if ok, _ := c.Extension("STARTTLS"); ok {
			cfg := &tls.Config{MinVersion: tls.VersionTLS12}
			if s.TLSConfig != nil {
				cfg = s.TLSConfig.Clone()
			}
			if cfg.ServerName == "" {
				cfg.ServerName = host
			}
			if err := c.StartTLS(cfg); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
		} else if policy == StartTLSRequire {
			return ErrNoStartTLS
		}
	}

	if s.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("auth: server does not offer AUTH")
		}
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, a := range to {
		if err := c.Rcpt(a.Address); err != nil {
			return fmt.Errorf("rcpt to %s: %w", a.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// The message was accepted at the end of DATA: a failed QUIT does not
	// undo that.
	_ = c.Quit()
	return nil
}

// buildMessage renders an RFC 5322 message: UTF-8 plain text, quoted-
// printable, with the subject RFC 2047-encoded when it needs it.
func buildMessage(from *mail.Address, to []*mail.Address, e Email, now time.Time) []byte {
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", messageID(from.Address))
	header("From", from.String())
	addrs := make([]string, len(to))
	for i, a := range to {
		addrs[i] = a.String()
	}
	header("To", strings.Join(addrs, ",\r\n "))
	header("Subject", encodeSubject(e.Subject))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	if e.CallSID != "" && !strings.ContainsAny(e.CallSID, "\r\n") {
		header("X-Switchyard-Call-Sid", e.CallSID)
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(e.Body)) // writes to a bytes.Buffer do not fail
	_ = qp.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// encodeSubject turns line breaks and runs of white space into single
// spaces (no header injection) and RFC 2047-encodes a subject that is not
// plain ASCII, folding between the encoded words so lines stay short.
func encodeSubject(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	enc := mime.QEncoding.Encode("utf-8", s) // ASCII comes back unchanged
	return strings.ReplaceAll(enc, "?= =?", "?=\r\n =?")
}

// messageID returns a unique Message-ID in the sender's domain.
func messageID(from string) string {
	domain := "switchyard.invalid"
	if _, d, ok := strings.Cut(from, "@"); ok && d != "" {
		domain = d
	}
	var r [16]byte
	_, _ = rand.Read(r[:])
	return "<" + hex.EncodeToString(r[:]) + "@" + domain + ">"
}
