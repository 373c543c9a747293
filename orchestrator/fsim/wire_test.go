package fsim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
)

var allTranscripts = []string{"01-inbound-basics.txt", "02-outbound-greeting-hangup.txt", "03-outbound-ivr-dtmf.txt",
	"04-bridge-parallel.txt", "05-bridge-sequential.txt", "06-record-voicemail.txt", "07-originate-to-socket.txt", "08-inbound-call-control.txt"}

// TestFrameWriterMatchesTranscripts decodes every byte-exact FS->APP frame
// of the reference transcripts and renders it again with the emulator's
// frame writers: the bytes must be identical (envelope, header order,
// URL-encoding, Content-Length values, nested bodies, JSON rendering).
func TestFrameWriterMatchesTranscripts(t *testing.T) {
	counts := map[string]int{}
	for _, name := range allTranscripts {
		data, err := os.ReadFile(transcriptPath(t, name))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := parseTranscript(data)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range recs {
			if r.dir != "FS->APP" || r.condensed {
				continue
			}
			got, kind, err := rerender(r.data)
			if err != nil {
				t.Fatalf("%s record %d: %v", name, i, err)
			}
			if !bytes.Equal(got, r.data) {
				t.Fatalf("%s record %d (%s): re-rendered frame differs\n got: %q\nwant: %q", name, i, kind, trunc(string(got), 600), trunc(string(r.data), 600))
			}
			counts[kind]++
		}
	}
	t.Logf("byte-exact frames re-rendered: %v", counts)
	for _, k := range []string{"event-plain", "event-json", "command/reply", "api/response", "channel-data", "disconnect", "linger", "auth/request"} {
		if counts[k] == 0 {
			t.Errorf("no %s frames checked", k)
		}
	}
}

// rerender parses a frame and rebuilds it with the emulator's writers.
func rerender(raw []byte) ([]byte, string, error) {
	f, err := readFrame(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, "", err
	}
	switch f.ctype {
	case "auth/request":
		return frameAuthRequest(), "auth/request", nil
	case "api/response":
		return frameAPI(f.body), "api/response", nil
	case "text/disconnect-notice":
		if f.get("Content-Disposition") == "linger" {
			var secs int
			_, _ = fmtSscan(f.get("Linger-Time"), &secs)
			return frameLinger(f.get("Controlled-Session-UUID"), f.get("Channel-Name"), secs), "linger", nil
		}
		return frameDisconnect(f.get("Controlled-Session-UUID")), "disconnect", nil
	case "command/reply":
		if f.get("Event-Name") == "CHANNEL_DATA" {
			var b bytes.Buffer
			encodeHeaderBlock(&b, f.evOrder)
			b.WriteByte('\n')
			return b.Bytes(), "channel-data", nil
		}
		extra := append([]hdr(nil), f.outer[2:]...)
		return frameReply(f.get("Reply-Text"), extra...), "command/reply", nil
	case "text/event-plain":
		ev := &event{}
		for _, h := range f.evOrder {
			if h.name == "Content-Length" {
				continue // added by the writer from the body
			}
			ev.hdrs = append(ev.hdrs, h)
		}
		ev.body = f.evBody
		return ev.framePlain(), "event-plain", nil
	case "text/event-json":
		ev, err := orderedJSONEvent(f.body)
		if err != nil {
			return nil, "", err
		}
		return ev.frameJSON(), "event-json", nil
	}
	return nil, "", io.ErrUnexpectedEOF
}

func fmtSscan(s string, n *int) (int, error) {
	v := 0
	neg := strings.HasPrefix(s, "-")
	for _, c := range strings.TrimPrefix(s, "-") {
		v = v*10 + int(c-'0')
	}
	if neg {
		v = -v
	}
	*n = v
	return 1, nil
}

// orderedJSONEvent parses a JSON event keeping the key order.
func orderedJSONEvent(body string) (*event, error) {
	dec := json.NewDecoder(strings.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	ev := &event{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		var value string
		if len(raw) > 0 && raw[0] == '[' {
			var arr []string
			if err := json.Unmarshal(raw, &arr); err != nil {
				return nil, err
			}
			value = "ARRAY::" + strings.Join(arr, "|:")
		} else if err := json.Unmarshal(raw, &value); err != nil {
			return nil, err
		}
		switch key {
		case "Content-Length":
			continue
		case "_body":
			ev.body = value
			continue
		}
		ev.hdrs = append(ev.hdrs, hdr{key, value})
	}
	return ev, nil
}

func TestURLEncode(t *testing.T) {
	cases := map[string]string{
		"sofia/lo/15551230001@127.0.0.1":       "sofia/lo/15551230001%40127.0.0.1",
		"tone_stream://%(400,200,440);loops=2": "tone_stream%3A//%25(400,200,440)%3Bloops%3D2",
		"+OK\n":                                "%2BOK%0A",
		"1 6 2 5000 # a ^\\d{1,4}$ 2000":       "1%206%202%205000%20%23%20a%20%5E%5Cd%7B1,4%7D$%202000",
		"already%20encoded":                    "already%20encoded",
		"fd00::2":                              "fd00%3A%3A2",
		"plain-value_1.2~x":                    "plain-value_1.2~x",
		"caf\xc3\xa9":                          "caf%C3%A9",
	}
	for in, want := range cases {
		if got := urlEncode(in); got != want {
			t.Errorf("urlEncode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadCommand(t *testing.T) {
	in := "\r\n\r\nauth ClueCon\r\n\r\n" + // eslgo style, with stray CRLFs before
		"sendmsg abc\ncall-command: execute\nexecute-app-name: set\nContent-Type: text/plain\nContent-Length: 5\n\nx=1 2\r\n\r\n" +
		"api status\n\n" +
		"bgapi status\nJob-UUID: 1234\n\n"
	r := bufio.NewReader(strings.NewReader(in))
	c1, err := readCommand(r)
	if err != nil || c1.line != "auth ClueCon" {
		t.Fatalf("1: %+v %v", c1, err)
	}
	c2, err := readCommand(r)
	if err != nil || c2.line != "sendmsg abc" || c2.body != "x=1 2" {
		t.Fatalf("2: %+v %v", c2, err)
	}
	if v, _ := c2.header("CALL-COMMAND"); v != "execute" {
		t.Fatalf("header lookup: %q", v)
	}
	c3, err := readCommand(r)
	if err != nil || c3.line != "api status" || len(c3.headers) != 0 {
		t.Fatalf("3: %+v %v", c3, err)
	}
	c4, err := readCommand(r)
	if err != nil || c4.line != "bgapi status" {
		t.Fatalf("4: %+v %v", c4, err)
	}
	if v, _ := c4.header("job-uuid"); v != "1234" {
		t.Fatalf("job uuid %q", v)
	}
	if _, err := readCommand(r); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
	// FreeSWITCH cuts a line at the next CR when the block has one: an
	// LF-only line before it swallows the next.
	mixed := "bgapi status\nJob-UUID: 1234\r\n\r\n" +
		"sendmsg\nexecute-app-name: bridge\nContent-Length: 3\n\nabcapi status\n\n"
	r = bufio.NewReader(strings.NewReader(mixed))
	if c, err := readCommand(r); err != nil || c.line != "bgapi status\nJob-UUID: 1234" || len(c.headers) != 0 {
		t.Fatalf("mixed line ends: %+v %v", c, err)
	}
	if c, err := readCommand(r); err != nil || c.body != "abc" || c.headerBytes != len("sendmsg\nexecute-app-name: bridge\nContent-Length: 3\n\n") {
		t.Fatalf("LF-only with a body: %+v %v", c, err)
	}
	if c, err := readCommand(r); err != nil || c.line != "api status" {
		t.Fatalf("after a body: %+v %v", c, err)
	}
	// a body larger than 16 MiB is refused
	big := "sendmsg x\nContent-Length: 20000000\n\n"
	if _, err := readCommand(bufio.NewReader(strings.NewReader(big))); err != errBodyTooLarge {
		t.Fatalf("want errBodyTooLarge, got %v", err)
	}
}

func TestSplitArgs(t *testing.T) {
	got := splitArgs(`{a=1}loopback/x/default '&socket(127.0.0.1:8089 async full)'  XML  'my ctx'`)
	want := []string{"{a=1}loopback/x/default", "&socket(127.0.0.1:8089 async full)", "XML", "my ctx"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q", got)
	}
}

// FuzzReadCommand: the command parser never panics and always progresses.
func FuzzReadCommand(f *testing.F) {
	for _, name := range allTranscripts {
		data, err := os.ReadFile(transcriptPath(f, name))
		if err != nil {
			continue
		}
		recs, _ := parseTranscript(data)
		for _, r := range recs {
			if r.dir == "APP->FS" {
				f.Add(r.data)
			}
		}
	}
	f.Add([]byte("sendmsg\nContent-Length: -5\n\n"))
	f.Add([]byte("api x\nContent-Length: 99999999999999999999\n\n"))
	f.Add([]byte("\r\r\r\n\n:\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for i := 0; i < 1000; i++ {
			c, err := readCommand(r)
			if err != nil {
				return
			}
			_ = splitArgs(c.line)
			_, _ = c.header("content-length")
		}
	})
}
