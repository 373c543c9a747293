package api_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mgPresign builds a pre-signed URL path the way the server signs them:
// HMAC-SHA256 over the path, a zero byte and the expiry.
func mgPresign(path string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	m := hmac.New(sha256.New, mgSigningKey)
	m.Write([]byte(path))
	m.Write([]byte{0})
	m.Write([]byte(exp))
	q := url.Values{"Expires": {exp}, "Signature": {hex.EncodeToString(m.Sum(nil))}}
	return path + "?" + q.Encode()
}

// v1Exception decodes a v1 XML error.
func v1Exception(t *testing.T, raw []byte) (status int, msg string) {
	t.Helper()
	var body struct {
		XMLName xml.Name `xml:"TwilioResponse"`
		Exc     struct {
			Status  int    `xml:"Status"`
			Message string `xml:"Message"`
		} `xml:"RestException"`
	}
	if err := xml.Unmarshal(raw, &body); err != nil {
		t.Fatalf("not a TwilioResponse: %v\n%s", err, raw)
	}
	return body.Exc.Status, body.Exc.Message
}

func TestRecordingDownload(t *testing.T) {
	e := newMgEnv(t)
	dir := t.TempDir()
	audio := []byte("RIFF....WAVEfmt 0123456789abcdefghijklmnopqrstuvwxyz")
	wav := filepath.Join(dir, "call.wav")
	if err := os.WriteFile(wav, audio, 0o600); err != nil {
		t.Fatal(err)
	}
	mp3 := filepath.Join(dir, "call.mp3")
	if err := os.WriteFile(mp3, []byte("ID3 mp3 data"), 0o600); err != nil {
		t.Fatal(err)
	}
	call := e.seedCall("acme")
	rec := e.seedRecording("acme", call, wav, "wav")
	recMP3 := e.seedRecording("acme", call, mp3, "mp3")
	recNoFormat := e.seedRecording("acme", call, wav, "")
	path := "/v1/Accounts/acme/Recordings/" + rec.ID

	// With credentials: the whole file, typed by format.
	res := e.must(http.StatusOK, mgReq{Method: "GET", Path: path})
	if string(res.Raw) != string(audio) || res.Header.Get("Content-Type") != "audio/wav" {
		t.Errorf("download: %q %q", res.Header.Get("Content-Type"), res.Raw)
	}
	if cd := res.Header.Get("Content-Disposition"); !strings.Contains(cd, rec.ID+".wav") {
		t.Errorf("Content-Disposition %q", cd)
	}
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: "/v1/Accounts/acme/Recordings/" + recMP3.ID})
	if res.Header.Get("Content-Type") != "audio/mpeg" || string(res.Raw) != "ID3 mp3 data" {
		t.Errorf("mp3: %q %q", res.Header.Get("Content-Type"), res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: "/v1/Accounts/acme/Recordings/" + recNoFormat.ID})
	if res.Header.Get("Content-Type") != "audio/wav" {
		t.Errorf("no format: %q", res.Header.Get("Content-Type"))
	}

	// Ranges and HEAD.
	res = e.must(http.StatusPartialContent, mgReq{Method: "GET", Path: path, Header: http.Header{"Range": {"bytes=4-11"}}})
	if string(res.Raw) != string(audio[4:12]) || res.Header.Get("Content-Range") != "bytes 4-11/"+strconv.Itoa(len(audio)) {
		t.Errorf("range: %q %q", res.Header.Get("Content-Range"), res.Raw)
	}
	res = e.must(http.StatusOK, mgReq{Method: "HEAD", Path: path})
	if len(res.Raw) != 0 || res.Header.Get("Content-Length") != strconv.Itoa(len(audio)) {
		t.Errorf("HEAD: %q %q", res.Header.Get("Content-Length"), res.Raw)
	}

	// Pre-signed: no credentials needed until it expires.
	signed := mgPresign(path, time.Now().Add(10*time.Minute))
	res = e.must(http.StatusOK, mgReq{Method: "GET", Path: signed, NoAuth: true})
	if string(res.Raw) != string(audio) {
		t.Errorf("pre-signed download: %q", res.Raw)
	}
	res = e.do(mgReq{Method: "GET", Path: mgPresign(path, time.Now().Add(-time.Minute)), NoAuth: true})
	if res.Status != http.StatusForbidden {
		t.Errorf("expired pre-signed URL: %d", res.Status)
	}
	if st, _ := v1Exception(t, res.Raw); st != http.StatusForbidden {
		t.Errorf("expired: RestException status %d", st)
	}
	tampered := strings.Replace(signed, "Signature=", "Signature=0", 1)
	if res := e.do(mgReq{Method: "GET", Path: tampered, NoAuth: true}); res.Status != http.StatusForbidden {
		t.Errorf("tampered signature: %d", res.Status)
	}
	// A signature for one recording opens no other.
	other := signed[strings.Index(signed, "?"):]
	if res := e.do(mgReq{Method: "GET", Path: "/v1/Accounts/acme/Recordings/" + recMP3.ID + other, NoAuth: true}); res.Status != http.StatusForbidden {
		t.Errorf("signature reused on another recording: %d", res.Status)
	}

	// No credentials, wrong ones, another account's.
	res = e.do(mgReq{Method: "GET", Path: path, NoAuth: true})
	if st, _ := v1Exception(t, res.Raw); res.Status != http.StatusUnauthorized || st != http.StatusUnauthorized ||
		res.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no credentials: %d %s", res.Status, res.Raw)
	}
	if res := e.do(mgReq{Method: "GET", Path: path, As: &e.B}); res.Status != http.StatusForbidden || strings.Contains(string(res.Raw), "RIFF") {
		t.Errorf("B's credentials: %d %s", res.Status, res.Raw)
	}
}

func TestRecordingDownloadAcrossAccounts(t *testing.T) {
	e := newMgEnv(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "globex.wav")
	if err := os.WriteFile(secret, []byte("GLOBEX SECRET AUDIO"), 0o600); err != nil {
		t.Fatal(err)
	}
	theirs := e.seedRecording("globex", e.seedCall("globex"), secret, "wav")

	// A's credentials, B's recording id under A's path: 404.
	res := e.do(mgReq{Method: "GET", Path: "/v1/Accounts/acme/Recordings/" + theirs.ID})
	if res.Status != http.StatusNotFound || strings.Contains(string(res.Raw), "GLOBEX") {
		t.Errorf("A reading B's recording: %d %s", res.Status, res.Raw)
	}
	// A URL signed for A's path with B's recording id: still 404.
	res = e.do(mgReq{Method: "GET", Path: mgPresign("/v1/Accounts/acme/Recordings/"+theirs.ID, time.Now().Add(time.Hour)), NoAuth: true})
	if res.Status != http.StatusNotFound || strings.Contains(string(res.Raw), "GLOBEX") {
		t.Errorf("pre-signed A path, B recording: %d %s", res.Status, res.Raw)
	}
	// A's credentials on B's path: 403.
	res = e.do(mgReq{Method: "GET", Path: "/v1/Accounts/globex/Recordings/" + theirs.ID})
	if res.Status != http.StatusForbidden || strings.Contains(string(res.Raw), "GLOBEX") {
		t.Errorf("A's credentials on B's path: %d %s", res.Status, res.Raw)
	}
	// B's own pre-signed URL works for anyone holding it.
	res = e.do(mgReq{Method: "GET", Path: mgPresign("/v1/Accounts/globex/Recordings/"+theirs.ID, time.Now().Add(time.Hour)), NoAuth: true})
	if res.Status != http.StatusOK || string(res.Raw) != "GLOBEX SECRET AUDIO" {
		t.Errorf("B's pre-signed URL: %d %s", res.Status, res.Raw)
	}
}

func TestRecordingDownloadMissingOrUnsafeFile(t *testing.T) {
	e := newMgEnv(t)
	dir := t.TempDir()
	call := e.seedCall("acme")
	target := filepath.Join(dir, "elsewhere.wav")
	if err := os.WriteFile(target, []byte("NOT THIS ONE"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.wav")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]string{
		"missing file": filepath.Join(dir, "gone.wav"),
		"folder":       dir,
		"symlink":      link,
		"no path":      "",
	} {
		rec := e.seedRecording("acme", call, p, "wav")
		res := e.do(mgReq{Method: "GET", Path: "/v1/Accounts/acme/Recordings/" + rec.ID})
		if res.Status != http.StatusNotFound || strings.Contains(string(res.Raw), "NOT THIS ONE") {
			t.Errorf("%s: %d %s", name, res.Status, res.Raw)
			continue
		}
		if st, msg := v1Exception(t, res.Raw); st != http.StatusNotFound || msg == "" || strings.Contains(msg, dir) {
			t.Errorf("%s: RestException %d %q", name, st, msg)
		}
	}
	// An unknown id, and ids that try to walk the file system.
	for _, id := range []string{"re_nope", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd"} {
		res := e.do(mgReq{Method: "GET", Path: "/v1/Accounts/acme/Recordings/" + id})
		if res.Status != http.StatusNotFound || strings.Contains(string(res.Raw), "root:") {
			t.Errorf("id %s: %d %s", id, res.Status, res.Raw)
		}
	}
	// The .json form of the route gives the error as JSON.
	res := e.do(mgReq{Method: "GET", Path: "/v1/Accounts/acme/Recordings/re_nope.json"})
	if res.Status != http.StatusNotFound || digStr(res.JSON, "RestException", "Message") == "" {
		t.Errorf(".json error: %d %s", res.Status, res.Raw)
	}
}
