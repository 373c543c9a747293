package store_test

import (
	"errors"
	"testing"

	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// TestNumbersMatch: an ExoPhone is found as people write it; a national
// form that fits two of the account's numbers, or another account's
// number, is not found.
func TestNumbersMatch(t *testing.T) {
	ctx := t.Context()
	db := storetest.OpenMigrated(t, storetest.SQLiteDSN(t))
	for _, a := range []string{"acme1", "globex2"} {
		if _, _, err := db.Accounts().CreateWithSID(ctx, a, a); err != nil {
			t.Fatal(err)
		}
	}
	for acct, nums := range map[string][]string{"acme1": {"+918047000000", "+15550000100", "+445550000100"}, "globex2": {"+918047000001"}} {
		for _, n := range nums {
			if _, err := db.Numbers().Create(ctx, acct, n, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	for in, want := range map[string]string{
		"+918047000000": "+918047000000", "918047000000": "+918047000000", "00918047000000": "+918047000000",
		"08047000000": "+918047000000", "8047000000": "+918047000000", " +15550000100 ": "+15550000100",
		"05550000100":   "", // +1 and +44 both fit: ambiguous
		"+918047000001": "", "08047000001": "", "+91804700000": "", "abc": "", "": "", "0000": "",
	} {
		p, err := db.Numbers().Match(ctx, "acme1", in)
		switch {
		case want == "" && !errors.Is(err, store.ErrNotFound):
			t.Errorf("Match(%q) = %v, %v; want ErrNotFound", in, p, err)
		case want != "" && (err != nil || p.Number != want):
			t.Errorf("Match(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
}
