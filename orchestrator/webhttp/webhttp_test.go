package webhttp

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestNoRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/target", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	base := &http.Client{Timeout: time.Minute}
	resp, err := NoRedirects(base).Get(srv.URL + "/moved")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/target" {
		t.Fatalf("got %d %q, want the 302 itself", resp.StatusCode, resp.Header.Get("Location"))
	}
	if base.CheckRedirect != nil || NoRedirects(base).Timeout != time.Minute {
		t.Fatal("the given client must be copied, not changed")
	}
}

func TestTimeout(t *testing.T) {
	for _, tc := range []struct {
		seconds int
		want    time.Duration
	}{{0, 5 * time.Second}, {-3, 5 * time.Second}, {1, time.Second}, {29, 29 * time.Second}, {30, 30 * time.Second}, {3600, 30 * time.Second}} {
		if got := Timeout(tc.seconds, 5*time.Second, 30*time.Second); got != tc.want {
			t.Errorf("Timeout(%d) = %s, want %s", tc.seconds, got, tc.want)
		}
	}
}
