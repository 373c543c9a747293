package fsim

// Parser for the reference transcripts in shared/reference/esl-transcripts
// (format in that folder's README):
//
//	#### [+<secs>s] conn=<label> <APP->FS|FS->APP> bytes=<N>  [annotation]
//	<exactly N bytes>
//	<one LF>
//
// Records flagged CONDENSED-BY-PUBLISHER print fewer bytes ("printed below:
// M bytes") and are not byte-exact; NOTE lines are driver commentary.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

type trec struct {
	at        float64
	conn      string
	dir       string // "APP->FS", "FS->APP" or "NOTE"
	ann       string
	data      []byte
	note      string
	condensed bool
}

var (
	recHeadRe     = regexp.MustCompile(`^#### \[\+\s*([0-9.]+)s\] (?:conn=(\S+) (APP->FS|FS->APP) bytes=(\d+)(.*)|NOTE (.*))$`)
	printedRe     = regexp.MustCompile(`printed below: (\d+) bytes`)
	transcriptDir = "../../../shared/reference/esl-transcripts"
)

func transcriptPath(t testing.TB, name string) string {
	t.Helper()
	for _, dir := range []string{"testdata/esl-transcripts", transcriptDir} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skipf("transcript %s not found", name)
	return ""
}

func parseTranscript(data []byte) ([]trec, error) {
	var out []trec
	i := 0
	for i < len(data) {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			break
		}
		line := string(data[i : i+j])
		i += j + 1
		m := recHeadRe.FindStringSubmatch(line)
		if m == nil {
			continue // file header lines
		}
		at, _ := strconv.ParseFloat(m[1], 64)
		if m[6] != "" || (m[2] == "" && strings.Contains(line, "NOTE")) {
			out = append(out, trec{at: at, dir: "NOTE", note: m[6]})
			continue
		}
		n, _ := strconv.Atoi(m[4])
		r := trec{at: at, conn: m[2], dir: m[3], ann: strings.TrimSpace(m[5])}
		if strings.Contains(r.ann, "CONDENSED-BY-PUBLISHER") {
			r.condensed = true
			pm := printedRe.FindStringSubmatch(r.ann)
			if pm == nil {
				return nil, fmt.Errorf("condensed record without printed size: %s", line)
			}
			n, _ = strconv.Atoi(pm[1])
		}
		if i+n > len(data) {
			return nil, fmt.Errorf("record overruns file: %s", line)
		}
		r.data = data[i : i+n]
		i += n
		if i < len(data) && data[i] == '\n' {
			i++
		}
		out = append(out, r)
	}
	return out, nil
}

// xframe is an expected FS->APP frame.
type xframe struct {
	rec       int // record index
	conn      string
	ctype     string
	outer     map[string]string
	body      string
	ev        map[string]string
	condensed bool
	cmd       string   // the APP->FS command this frame answers (for replies)
	order     []string // event header names in order (byte-exact frames)
}

func (x *xframe) isEvent() bool { return strings.HasPrefix(x.ctype, "text/event-") }

func parseExpected(r trec, idx int) (*xframe, error) {
	x := &xframe{rec: idx, conn: r.conn, condensed: r.condensed, outer: map[string]string{}}
	if !r.condensed {
		f, err := readFrame(bufio.NewReader(bytes.NewReader(r.data)))
		if err != nil {
			return nil, err
		}
		for _, h := range f.outer {
			x.outer[h.name] = h.value
		}
		x.ctype, x.body, x.ev = f.ctype, f.body, f.ev
		for _, h := range f.evOrder {
			x.order = append(x.order, h.name)
		}
		if f.ctype == "text/event-plain" || f.ctype == "text/event-json" {
			x.body = f.evBody
		}
		return x, nil
	}
	head, body, _ := strings.Cut(string(r.data), "\n\n")
	for _, l := range strings.Split(head, "\n") {
		if n, v, ok := strings.Cut(l, ": "); ok {
			x.outer[n] = v
		}
	}
	x.ctype = x.outer["Content-Type"]
	x.ev = map[string]string{}
	for _, l := range strings.Split(body, "\n") {
		if l == "" || strings.HasPrefix(l, "[publisher") {
			continue
		}
		if n, v, ok := strings.Cut(l, ": "); ok {
			if _, dup := x.ev[n]; !dup {
				x.ev[n] = urlDecode(v)
			}
		}
	}
	return x, nil
}

func TestParseTranscripts(t *testing.T) {
	for _, name := range []string{"01-inbound-basics.txt", "02-outbound-greeting-hangup.txt", "03-outbound-ivr-dtmf.txt",
		"04-bridge-parallel.txt", "05-bridge-sequential.txt", "06-record-voicemail.txt", "07-originate-to-socket.txt", "08-inbound-call-control.txt"} {
		data, err := os.ReadFile(transcriptPath(t, name))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := parseTranscript(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		nframes := 0
		for i, r := range recs {
			if r.dir != "FS->APP" {
				continue
			}
			x, err := parseExpected(r, i)
			if err != nil {
				t.Fatalf("%s record %d: %v", name, i, err)
			}
			if x.ctype == "" {
				t.Fatalf("%s record %d: no Content-Type", name, i)
			}
			if x.isEvent() && x.ev["Event-Name"] == "" {
				t.Fatalf("%s record %d: event without Event-Name", name, i)
			}
			nframes++
		}
		if nframes == 0 {
			t.Fatalf("%s: no frames", name)
		}
	}
}
