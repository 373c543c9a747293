package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

func TestParseSigningKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xa5, 0x01, 0xfe}, 11) // 33 bytes
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"hex", hex.EncodeToString(key), true},
		{"hex upper case, spaces around", "  " + strings.ToUpper(hex.EncodeToString(key)) + "\n", true},
		{"base64", base64.StdEncoding.EncodeToString(key), true},
		{"base64 unpadded", base64.RawStdEncoding.EncodeToString(key[:32]), true},
		{"base64 URL alphabet", base64.URLEncoding.EncodeToString(key), true},
		{"too short", hex.EncodeToString(key[:31]), false},
		{"too short base64", base64.StdEncoding.EncodeToString(key[:20]), false},
		{"neither", "not a key at all, just words!", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSigningKey(tc.in)
			if !tc.ok {
				if err == nil {
					t.Errorf("accepted: %x", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, key[:len(got)]) || len(got) < MinSigningKey {
				t.Errorf("decoded %x", got)
			}
		})
	}
}

// TestSigningKeySharedThroughTheDatabase: instances starting together on
// one database agree on one key, a restart finds it again, and a URL
// pre-signed by one instance opens on another.
func TestSigningKeySharedThroughTheDatabase(t *testing.T) {
	callsDBs(t, func(t *testing.T, fresh func(testing.TB) string) {
		ctx := context.Background()
		dsn := fresh(t)
		first := storetest.OpenMigrated(t, dsn)

		// Four instances start at once, each with its own connections.
		const instances = 4
		keys := make([][]byte, instances)
		dbs := make([]*store.DB, instances)
		for i := range dbs {
			dbs[i] = storetest.Open(t, dsn)
		}
		var wg sync.WaitGroup
		errs := make([]error, instances)
		for i := range instances {
			wg.Go(func() { keys[i], errs[i] = SharedSigningKey(ctx, dbs[i]) })
		}
		wg.Wait()
		for i := range instances {
			if errs[i] != nil {
				t.Fatalf("instance %d: %v", i, errs[i])
			}
			if len(keys[i]) < MinSigningKey || !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("instance %d got key %x, instance 0 %x", i, keys[i], keys[0])
			}
		}
		// A restart (a new handle) reads the same key.
		again, err := SharedSigningKey(ctx, storetest.Open(t, dsn))
		if err != nil || !bytes.Equal(again, keys[0]) {
			t.Fatalf("after a restart: %x, %v", again, err)
		}

		// A recording of acme1, signed by instance A, fetched from B.
		_, _, err = first.Accounts().CreateWithSID(ctx, envAccount, "Acme")
		envMust(t, err)
		c := &store.Call{AccountSID: envAccount, Direction: store.DirectionOutboundAPI, From: "+15550100001", To: "+15550100002"}
		envMust(t, first.Calls().Create(ctx, c))
		file := filepath.Join(t.TempDir(), "rec.wav")
		envMust(t, os.WriteFile(file, []byte("RIFF recording"), 0o600))
		rec := &store.Recording{ID: "re_shared", AccountSID: envAccount, CallSID: c.SID, URL: "x", Path: file, Format: "wav", CreatedAt: time.Now()}
		envMust(t, first.Recordings().Create(ctx, rec))

		a := New(Options{Store: dbs[0], Database: dbs[0], SigningKey: keys[0]})
		b := New(Options{Store: dbs[1], Database: dbs[1], SigningKey: keys[1]})
		signed := a.presign("https://api.example/v1/Accounts/"+envAccount+"/Recordings/re_shared", time.Now(), 10*time.Minute)
		u, err := url.Parse(signed)
		envMust(t, err)
		res := httptest.NewRecorder()
		b.Handler().ServeHTTP(res, httptest.NewRequest("GET", u.RequestURI(), nil))
		if res.Code != http.StatusOK || res.Body.String() != "RIFF recording" {
			t.Fatalf("pre-signed on A, fetched from B: %d %s", res.Code, res.Body)
		}
		// A server with another key (the old per-process default) refuses it.
		other := New(Options{Store: dbs[2], Database: dbs[2]})
		res = httptest.NewRecorder()
		other.Handler().ServeHTTP(res, httptest.NewRequest("GET", u.RequestURI(), nil))
		if res.Code != http.StatusForbidden {
			t.Errorf("another key: %d, want 403", res.Code)
		}
	})
}
