package store_test

import (
	"os"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

func TestStoreSQLite(t *testing.T) {
	storetest.Exercise(t, storetest.SQLiteDSN)
}

func TestStorePostgres(t *testing.T) {
	if os.Getenv(storetest.EnvPostgres) == "" {
		t.Skip(storetest.EnvPostgres + " is not set: skipping the store suite on PostgreSQL (.ci/run starts a server and sets it)")
	}
	storetest.Exercise(t, storetest.PostgresDSN)
}
