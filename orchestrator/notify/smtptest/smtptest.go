// Package smtptest is a small SMTP server for tests: it speaks enough of
// the protocol for net/smtp (greeting, EHLO, optional STARTTLS, AUTH
// PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and hands each accepted
// message to the test.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// Message is what the server saw of one transaction.
type Message struct {
	Hello string
	TLS   bool
	Auth  string // decoded AUTH PLAIN response: "\x00user\x00pass"
	From  string
	To    []string
	Data  string // with LF line ends, dots unstuffed
}

// Server is a running test SMTP server. Each accepted message is sent on
// Got.
type Server struct {
	Addr       string
	tls        *tls.Config // offer STARTTLS when set
	rejectRcpt bool        // answer 550 to RCPT
	Got        chan Message
}

// New starts a server on loopback, stopped when the test ends; with
// tlsConfig it offers STARTTLS, with rejectRcpt it refuses every recipient.
func New(t testing.TB, tlsConfig *tls.Config, rejectRcpt bool) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), tls: tlsConfig, rejectRcpt: rejectRcpt, Got: make(chan Message, 8)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.handle(conn)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	return s
}

func (s *Server) handle(conn net.Conn) {
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	tp := textproto.NewConn(conn)
	var c Message
	reply := func(lines ...string) bool {
		for _, l := range lines {
			if err := tp.PrintfLine("%s", l); err != nil {
				return false
			}
		}
		return true
	}
	if !reply("220 test.invalid ESMTP ready") {
		return
	}
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		ok := true
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			c.Hello = arg
			lines := []string{"250-test.invalid greets " + arg}
			if s.tls != nil && !c.TLS {
				lines = append(lines, "250-STARTTLS")
			}
			ok = reply(append(lines, "250-AUTH PLAIN", "250 8BITMIME")...)
		case "STARTTLS":
			if s.tls == nil || c.TLS {
				ok = reply("502 5.5.1 not offered")
				break
			}
			if !reply("220 2.0.0 go ahead") {
				return
			}
			tc := tls.Server(conn, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn = tc
			tp = textproto.NewConn(tc)
			c = Message{TLS: true}
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			dec, err := base64.StdEncoding.DecodeString(resp)
			if !strings.EqualFold(mech, "PLAIN") || err != nil {
				ok = reply("535 5.7.8 bad credentials")
				break
			}
			c.Auth = string(dec)
			ok = reply("235 2.7.0 authenticated")
		case "MAIL":
			c.From = arg
			ok = reply("250 2.1.0 ok")
		case "RCPT":
			if s.rejectRcpt {
				ok = reply("550 5.1.1 no such user here")
				break
			}
			c.To = append(c.To, arg)
			ok = reply("250 2.1.5 ok")
		case "DATA":
			if !reply("354 end with <CRLF>.<CRLF>") {
				return
			}
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			c.Data = string(data)
			s.Got <- c
			c = Message{Hello: c.Hello, TLS: c.TLS, Auth: c.Auth}
			ok = reply("250 2.0.0 queued")
		case "RSET", "NOOP":
			ok = reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			ok = reply("502 5.5.2 unknown command")
		}
		if !ok {
			return
		}
	}
}

// testTLS returns a server config with a fresh self-signed certificate
// for 127.0.0.1, and a client config trusting it.
// TLS returns a self-signed server configuration and a client one that
// trusts it.
func TLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test smtp"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}
