package fsim

import (
	"errors"
	"strconv"
	"strings"
)

// dialString is a parsed bridge/originate dial string:
//
//	[<enterprise vars>]{global vars}[leg vars]endpoint,[leg vars]endpoint|{group vars}endpoint...
//
// `,` rings legs of a group at the same time, `|` tries groups one after
// another, `:_:` (enterprise originate) is treated like `,`.
type dialString struct {
	global []kv
	groups []dialGroup
}

type dialGroup struct {
	vars []kv
	legs []dialLeg
}

type dialLeg struct {
	vars     []kv
	endpoint string
}

var errEmptyDialString = errors.New("fsim: empty dial string")

func parseDialString(s string) (*dialString, error) {
	s = strings.TrimSpace(s)
	ds := &dialString{}
	if strings.HasPrefix(s, "<") {
		body, rest, err := cutBlock(s, '<', '>')
		if err != nil {
			return nil, err
		}
		ds.global = append(ds.global, parseVarBlock(body)...)
		s = strings.TrimSpace(rest)
	}
	if strings.HasPrefix(s, "{") {
		body, rest, err := cutBlock(s, '{', '}')
		if err != nil {
			return nil, err
		}
		ds.global = append(ds.global, parseVarBlock(body)...)
		s = strings.TrimSpace(rest)
	}
	s = strings.ReplaceAll(s, ":_:", ",")
	for _, g := range splitTop(s, '|') {
		g = strings.TrimSpace(g)
		var grp dialGroup
		if strings.HasPrefix(g, "{") {
			body, rest, err := cutBlock(g, '{', '}')
			if err != nil {
				return nil, err
			}
			grp.vars = parseVarBlock(body)
			g = strings.TrimSpace(rest)
		}
		for _, l := range splitTop(g, ',') {
			l = strings.TrimSpace(l)
			var leg dialLeg
			for strings.HasPrefix(l, "[") {
				body, rest, err := cutBlock(l, '[', ']')
				if err != nil {
					return nil, err
				}
				leg.vars = append(leg.vars, parseVarBlock(body)...)
				l = strings.TrimSpace(rest)
			}
			if l == "" {
				continue
			}
			leg.endpoint = l
			grp.legs = append(grp.legs, leg)
		}
		if len(grp.legs) > 0 {
			ds.groups = append(ds.groups, grp)
		}
	}
	if len(ds.groups) == 0 {
		return nil, errEmptyDialString
	}
	return ds, nil
}

// cutBlock returns the contents of the leading open..close block (quotes
// and backslash escapes respected) and what follows it.
func cutBlock(s string, open, close byte) (string, string, error) {
	if len(s) == 0 || s[0] != open {
		return "", s, nil
	}
	inq := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '\'':
			inq = !inq
		case c == close && !inq:
			return s[1:i], s[i+1:], nil
		}
	}
	return "", "", errors.New("fsim: unterminated " + string(open) + " block in dial string")
}

// splitTop splits s on sep outside quotes and [] {} <> blocks; `\sep` is
// not a separator.
func splitTop(s string, sep byte) []string {
	var out []string
	depth := 0
	inq := false
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
		case c == '\'':
			inq = !inq
		case inq:
		case c == '[' || c == '{' || c == '<':
			depth++
		case c == ']' || c == '}' || c == '>':
			if depth > 0 {
				depth--
			}
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// parseVarBlock parses "k=v,k2='v 2'" or the custom-delimiter form "^^;k=v;k2=v2".
func parseVarBlock(body string) []kv {
	var parts []string
	if rest, ok := strings.CutPrefix(body, "^^"); ok && len(rest) > 0 {
		parts = strings.Split(rest[1:], rest[:1])
	} else {
		parts = splitVarList(body)
	}
	var out []kv
	for _, p := range parts {
		name, value, ok := strings.Cut(p, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			continue
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'' {
			value = value[1 : len(value)-1]
		}
		out = append(out, kv{name, value})
	}
	return out
}

// splitVarList splits on commas outside single quotes; `\,` is a literal comma.
func splitVarList(s string) []string {
	var out []string
	var cur strings.Builder
	inq := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == ',':
			cur.WriteByte(',')
			i++
		case c == '\'':
			inq = !inq
			cur.WriteByte(c)
		case c == ',' && !inq:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

// lookup returns the value of name in vs (last one wins).
func lookup(vs []kv, name string) (string, bool) {
	v, ok := "", false
	for _, x := range vs {
		if x.name == name {
			v, ok = x.value, true
		}
	}
	return v, ok
}

// endpoint is one dial target.
type endpoint struct {
	raw     string
	tech    string // loopback, sofia, gateway, user, error, null
	number  string
	context string
	profile string
	gateway string
	host    string
}

func parseEndpoint(s string) (endpoint, error) {
	ep := endpoint{raw: s}
	tech, rest, ok := strings.Cut(s, "/")
	if !ok || rest == "" {
		return ep, errors.New("fsim: bad endpoint " + strconv.Quote(s))
	}
	ep.tech = strings.ToLower(tech)
	switch ep.tech {
	case "loopback":
		f := strings.Split(rest, "/")
		ep.number = f[0]
		ep.context = "default"
		if len(f) > 1 && f[1] != "" {
			ep.context = f[1]
		}
	case "sofia":
		if g, ok := strings.CutPrefix(rest, "gateway/"); ok {
			gw, num, ok := strings.Cut(g, "/")
			if !ok || num == "" {
				return ep, errors.New("fsim: bad gateway endpoint " + strconv.Quote(s))
			}
			ep.tech = "gateway"
			ep.gateway = gw
			ep.number = stripSIP(num)
			return ep, nil
		}
		prof, target, ok := strings.Cut(rest, "/")
		if !ok || target == "" {
			return ep, errors.New("fsim: bad sofia endpoint " + strconv.Quote(s))
		}
		ep.profile = prof
		target = strings.TrimPrefix(strings.TrimPrefix(target, "sip:"), "sips:")
		user, host, _ := strings.Cut(target, "@")
		ep.number = user
		ep.host = host
		if ep.host == "" {
			ep.host = "127.0.0.1"
		}
	case "user":
		user, dom, _ := strings.Cut(rest, "@")
		ep.number = user
		ep.host = dom
		if ep.host == "" {
			ep.host = "127.0.0.1"
		}
	case "error":
		ep.number = rest
	case "null":
		ep.number = rest
	default:
		return ep, errors.New("fsim: unsupported endpoint " + strconv.Quote(s))
	}
	if ep.number == "" {
		return ep, errors.New("fsim: bad endpoint " + strconv.Quote(s))
	}
	return ep, nil
}

func stripSIP(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "sip:"), "sips:")
	user, _, _ := strings.Cut(s, "@")
	return user
}

// ---- the test phone network (DESIGN.md §6) ----

type netClass int

const (
	netAnswer   netClass = iota // rings 1 s, answers, stays up
	netBusy                     // USER_BUSY (SIP 486)
	netNoAnswer                 // rings forever
	netReject                   // CALL_REJECTED (SIP 603)
	netTimed                    // answers after 1 s, hangs up after NN s
)

// testNumber classifies a +1 555 01xx number; ok is false for other numbers.
func testNumber(num string) (class netClass, nn int, ok bool) {
	n := strings.TrimPrefix(num, "+")
	if len(n) != 11 || !strings.HasPrefix(n, "15550100") {
		return 0, 0, false
	}
	v, err := strconv.Atoi(n[8:])
	if err != nil {
		return 0, 0, false
	}
	nn = v % 100
	switch {
	case v >= 1 && v <= 99:
		return netAnswer, nn, true
	case v >= 101 && v <= 199:
		return netBusy, nn, true
	case v >= 201 && v <= 299:
		return netNoAnswer, nn, true
	case v >= 301 && v <= 399:
		return netReject, nn, true
	case v >= 401 && v <= 499:
		return netTimed, nn, true
	}
	return 0, 0, false
}
