package numinfo

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"+919876543210":   "+919876543210",
		"919876543210":    "+919876543210",
		"09876543210":     "+919876543210",
		"9876543210":      "+919876543210",
		"080 4700 0000":   "+918047000000",
		"(080) 4700-0000": "+918047000000",
		"+15550100001":    "+15550100001",
		"15550100001":     "+15550100001",
	} {
		if got, ok := Parse(in); !ok || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "+", "abc", "12345", "2125551234", "00919876543210", "+91 98765 43210 x1", "9+1"} {
		if got, ok := Parse(in); ok {
			t.Errorf("Parse(%q) = %q, want refused", in, got)
		}
	}
}

func TestLookupLongestPrefix(t *testing.T) {
	tab := Builtin()
	cases := []struct{ in, typ, circle string }{
		{"+919876543210", Mobile, ""},
		{"+918047000000", Landline, "KA"},
		{"+918012345678", Mobile, ""}, // 80 then 1: a mobile series, not Bengaluru
		{"+911800123456", TollFree, ""},
		{"+912240001234", Landline, "MU"},
		{"+15550100001", Mobile, "TEST"},
		{"+442071234567", Unknown, ""},
	}
	for _, tc := range cases {
		got := tab.Lookup(tc.in)
		if got.Type != tc.typ || got.Circle != tc.circle || got.E164 != tc.in {
			t.Errorf("Lookup(%s) = %+v, want type %s circle %q", tc.in, got, tc.typ, tc.circle)
		}
	}
}

func TestLoadAddsOnTopAndRefusesBadFiles(t *testing.T) {
	tab := Builtin()
	err := tab.Load(strings.NewReader("prefix,type,circle,circle_name,operator,operator_name\n" +
		"# an operator's series\n91987,Mobile,KA,Karnataka,A,Airtel\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tab.Lookup("+919876543210"); got.Operator != "A" || got.Circle != "KA" {
		t.Errorf("loaded series not used: %+v", got)
	}
	if got := tab.Lookup("+919123456789"); got.Type != Mobile || got.Operator != "" {
		t.Errorf("other series changed: %+v", got)
	}
	for name, file := range map[string]string{
		"no header":    "91987,Mobile,KA,Karnataka,A,Airtel\n",
		"bad prefix":   "prefix,type,circle,circle_name,operator,operator_name\n9x1,Mobile,,,,\n",
		"bad type":     "prefix,type,circle,circle_name,operator,operator_name\n91,Satellite,,,,\n",
		"short row":    "prefix,type,circle,circle_name,operator,operator_name\n91,Mobile\n",
		"empty prefix": "prefix,type,circle,circle_name,operator,operator_name\n,Mobile,,,,\n",
	} {
		before := tab.Lookup("+919876543210")
		if err := tab.Load(strings.NewReader(file)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
		if tab.Lookup("+919876543210") != before {
			t.Errorf("%s: a refused file changed the table", name)
		}
	}
}
