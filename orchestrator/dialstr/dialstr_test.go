package dialstr

import (
	"errors"
	"strings"
	"testing"
)

func TestContact(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"+919800000001", true},
		{"09800000001", true},
		{"100", true},
		{"12", false},
		{"+1234567890123456", false},
		{"+91 98000", false},
		{"-9198000000", false},
		{"sip:alice@example.com", true},
		{"SIP:alice@example.com:5061", true},
		{"sips:agent.7@pbx.example.com;transport=tls", true},
		{"sip:alice", true},
		{"sip:al%2Cice@example.com", true},
		{"sip:al%2ice@example.com", false},
		{"sip:@example.com", false},
		{"sip:alice@", false},
		{"sip:alice@-example.com", false},
		{"sip:alice@example.com:", false},
		{"sip:alice@example.com:123456", false},
		{"sip:alice@example.com;", false},
		{"sip:alice@example.com;transport", true},
		{"sip:alice@example.com;=tcp", false},
		{"tel:+919800000001", false},
		{"sip:" + strings.Repeat("a", MaxLen), false},
	} {
		if got := Contact(tc.in); got != tc.want {
			t.Errorf("Contact(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// Every way of getting a second endpoint, a variable or an argument break
// into a dial string is refused.
func TestInjectionsAreRefused(t *testing.T) {
	for _, in := range []string{
		"sip:a@example.com,loopback/+15550100031/switchyard_testnet",
		"sip:a@example.com|sofia/gateway/other/1",
		"sip:a@example.com:_:loopback/1",
		"sip:a@h:_:x",
		"{origination_caller_id_number=1}sip:a@example.com",
		"sip:a@example.com[leg_timeout=1]",
		"sip:[sip_h_X=1]a@example.com",
		"sip:a@example.com<x=1>",
		"^^:sip:a@example.com:loopback/1",
		"sip:a@example.com '&park'",
		"sip:a@example.com\n",
		"sip:a\x00@example.com",
		"+9198'00",
		"9198,00",
		"sip:a@example.com;x=a,b",
		"sip:a@[::1]",
		"user/1000@default",
	} {
		if Contact(in) {
			t.Errorf("Contact(%q) = true: it would reach a dial string", in)
		}
		if err := Check(in); !errors.Is(err, ErrUnsafe) {
			t.Errorf("Check(%q) = %v, want ErrUnsafe", in, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"SIP:Alice@Example.com": "sip:Alice@Example.com",
		"Sips:a@b":              "sips:a@b",
		"+919800000001":         "+919800000001",
		"not:a uri":             "not:a uri",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// dangerous are the characters that mean something in a dial string or an
// application argument.
const dangerous = ",|{}[]<>^'\"` \t\r\n\x00!&*()$#\\/"

func FuzzContactHasNoDialStringSyntax(f *testing.F) {
	for _, s := range []string{"+919800000001", "sip:a@b.c:5060;transport=tcp", "sip:a@b,c", "sip:a%41@b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !Contact(s) {
			return
		}
		if strings.ContainsAny(s, dangerous) || strings.Contains(s, ":_:") {
			t.Fatalf("Contact accepted %q, which carries dial-string syntax", s)
		}
		if Normalize(s) != s && !strings.EqualFold(Normalize(s), s) {
			t.Fatalf("Normalize(%q) = %q changed more than case", s, Normalize(s))
		}
	})
}

func TestTrunk(t *testing.T) {
	for s, want := range map[string]string{"sip:pbx1": "pbx1", "SIP:carrier.in-2": "carrier.in-2", "sip:Exotel_Trunk": "Exotel_Trunk"} {
		if id, ok := Trunk(s); !ok || id != want {
			t.Errorf("Trunk(%q) = %q, %v; want %q", s, id, ok, want)
		}
		if !Contact(s) {
			t.Errorf("%q is a trunk but not a contact", s)
		}
	}
	for _, s := range []string{"sip:alice@pbx.example", "sip:pbx1;transport=tcp", "sip:+15550100001", "sips:pbx1", "pbx1",
		"sip:", "sip:-x", "sip:a/b", "sip:" + strings.Repeat("a", 65), "sip:pbx1,sofia/x"} {
		if id, ok := Trunk(s); ok {
			t.Errorf("Trunk(%q) = %q, want no trunk", s, id)
		}
	}
}

func TestSIPHeader(t *testing.T) {
	for _, h := range [][2]string{{"X-Customer", "42"}, {"X-Ref", "a.b_c~d-e+f@g:h/i"}, {"X-Empty", ""}} {
		if !SIPHeader(h[0], h[1]) {
			t.Errorf("SIPHeader(%q, %q) = false", h[0], h[1])
		}
	}
	for _, h := range [][2]string{{"", "x"}, {"X_A", "x"}, {"X-A", "a,b"}, {"X-A", "a b"}, {"X-A", "a'b"}, {"X-A", "}{"},
		{"X-A", "a|b"}, {"X-A", "a=b"}, {"X-A", "a]b"}, {"X-A", strings.Repeat("a", 129)}, {"X-A", "a\nb"}} {
		if SIPHeader(h[0], h[1]) {
			t.Errorf("SIPHeader(%q, %q) = true", h[0], h[1])
		}
	}
}
