package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"time"
)

// presign returns rawURL with Expires (unix seconds) and Signature query
// parameters that let anyone holding it GET the path until then, without
// credentials (Exotel's PreSignedRecordingUrl).
func (s *Server) presign(rawURL string, now time.Time, validity time.Duration) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	exp := strconv.FormatInt(now.Add(validity).Unix(), 10)
	q := u.Query()
	q.Set("Expires", exp)
	q.Set("Signature", s.signature(u.Path, exp))
	u.RawQuery = q.Encode()
	return u.String()
}

// presigned reports whether path carries a valid, unexpired signature in
// q (Expires, Signature) at now.
func (s *Server) presigned(path string, q url.Values, now time.Time) bool {
	exp, sig := q.Get("Expires"), q.Get("Signature")
	if exp == "" || sig == "" {
		return false
	}
	sec, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() > sec {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(s.signature(path, exp)))
}

func (s *Server) signature(path, exp string) string {
	m := hmac.New(sha256.New, s.opts.SigningKey)
	m.Write([]byte(path))
	m.Write([]byte{0})
	m.Write([]byte(exp))
	return hex.EncodeToString(m.Sum(nil))
}
