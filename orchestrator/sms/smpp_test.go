package sms_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/switchyard/switchyard/orchestrator/sms"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/store/storetest"
)

// A minimal SMSC: it speaks enough SMPP 3.4, written here from the
// specification (not with the client's library), to check what the
// client sends: bind_transceiver, submit_sm (with its TLVs),
// deliver_sm_resp, enquire_link and unbind.

const (
	cmdGenericNack     = 0x80000000
	cmdSubmitSM        = 0x00000004
	cmdSubmitSMResp    = 0x80000004
	cmdDeliverSM       = 0x00000005
	cmdDeliverSMResp   = 0x80000005
	cmdUnbind          = 0x00000006
	cmdUnbindResp      = 0x80000006
	cmdBindTRX         = 0x00000009
	cmdBindTRXResp     = 0x80000009
	cmdEnquireLink     = 0x00000015
	cmdEnquireLinkResp = 0x80000015
)

type smppPDU struct {
	cmd, status, seq uint32
	body             []byte
}

func readPDU(r io.Reader) (smppPDU, error) {
	var h [16]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return smppPDU{}, err
	}
	n := binary.BigEndian.Uint32(h[0:])
	if n < 16 || n > 64<<10 {
		return smppPDU{}, fmt.Errorf("bad command_length %d", n)
	}
	p := smppPDU{cmd: binary.BigEndian.Uint32(h[4:]), status: binary.BigEndian.Uint32(h[8:]),
		seq: binary.BigEndian.Uint32(h[12:]), body: make([]byte, n-16)}
	_, err := io.ReadFull(r, p.body)
	return p, err
}

func (p smppPDU) bytes() []byte {
	b := make([]byte, 16, 16+len(p.body))
	binary.BigEndian.PutUint32(b[0:], uint32(16+len(p.body)))
	binary.BigEndian.PutUint32(b[4:], p.cmd)
	binary.BigEndian.PutUint32(b[8:], p.status)
	binary.BigEndian.PutUint32(b[12:], p.seq)
	return append(b, p.body...)
}

// body reads a PDU body field by field.
type body struct {
	b   []byte
	err error
}

func (r *body) cstr() string {
	i := bytes.IndexByte(r.b, 0)
	if i < 0 {
		r.err = errors.New("unterminated C-string")
		return ""
	}
	s := string(r.b[:i])
	r.b = r.b[i+1:]
	return s
}

func (r *body) byte1() byte {
	if len(r.b) == 0 {
		r.err = errors.New("short body")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *body) take(n int) []byte {
	if len(r.b) < n {
		r.err = errors.New("short body")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func cstr(s string) []byte { return append([]byte(s), 0) }

// submitted is a submit_sm as the SMSC read it.
type submitted struct {
	srcTON, srcNPI     byte
	src, dst           string
	priority, regDeliv byte
	dataCoding         byte
	short              []byte
	tlvs               map[uint16][]byte
}

func parseSubmit(b []byte) (submitted, error) {
	r := &body{b: b}
	var s submitted
	r.cstr() // service_type
	s.srcTON, s.srcNPI = r.byte1(), r.byte1()
	s.src = r.cstr()
	r.byte1()
	r.byte1()
	s.dst = r.cstr()
	r.byte1() // esm_class
	r.byte1() // protocol_id
	s.priority = r.byte1()
	r.cstr() // schedule_delivery_time
	r.cstr() // validity_period
	s.regDeliv = r.byte1()
	r.byte1() // replace_if_present_flag
	s.dataCoding = r.byte1()
	r.byte1() // sm_default_msg_id
	n := r.byte1()
	s.short = r.take(int(n))
	s.tlvs = map[uint16][]byte{}
	for r.err == nil && len(r.b) >= 4 {
		tag := binary.BigEndian.Uint16(r.b)
		l := binary.BigEndian.Uint16(r.b[2:])
		r.b = r.b[4:]
		s.tlvs[tag] = r.take(int(l))
	}
	return s, r.err
}

// fakeSMSC answers by destination: +1555019990N refuses the submission
// with status N (see below); ...9801 answers UNDELIV, ...9802 REJECTD;
// anything else DELIVRD. Every accepted message gets a receipt right
// after its submit_sm_resp.
type fakeSMSC struct {
	t  *testing.T
	ln net.Listener

	mu       sync.Mutex
	binds    []string // system_id/password/system_type
	got      []submitted
	acks     int // deliver_sm_resp received
	nextID   int
	throttle int // submissions to answer ESME_RTHROTTLED first

	events chan string // "bind", "submit", "ack"
	wg     sync.WaitGroup
}

func newFakeSMSC(t *testing.T) *fakeSMSC {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSMSC{t: t, ln: ln, events: make(chan string, 256)}
	f.wg.Go(f.accept)
	t.Cleanup(func() { _ = ln.Close(); f.wg.Wait() })
	return f
}

func (f *fakeSMSC) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Go(func() { f.serve(c) })
	}
}

func (f *fakeSMSC) event(e string) {
	select {
	case f.events <- e:
	default:
	}
}

func (f *fakeSMSC) serve(c net.Conn) {
	defer c.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-stop:
		case <-f.t.Context().Done():
			_ = c.Close()
		}
	}()
	r := bufio.NewReader(c)
	var wmu sync.Mutex
	write := func(p smppPDU) {
		wmu.Lock()
		defer wmu.Unlock()
		_, _ = c.Write(p.bytes())
	}
	var seq uint32 = 1000
	for {
		p, err := readPDU(r)
		if err != nil {
			return
		}
		switch p.cmd {
		case cmdBindTRX:
			b := &body{b: p.body}
			id, pw, st := b.cstr(), b.cstr(), b.cstr()
			f.mu.Lock()
			f.binds = append(f.binds, id+"/"+pw+"/"+st)
			f.mu.Unlock()
			status := uint32(0)
			if pw != "secret" {
				status = 0x0E // ESME_RINVPASWD
			}
			write(smppPDU{cmd: cmdBindTRXResp, status: status, seq: p.seq, body: cstr("FAKESMSC")})
			f.event("bind")
		case cmdEnquireLink:
			write(smppPDU{cmd: cmdEnquireLinkResp, seq: p.seq})
		case cmdUnbind:
			write(smppPDU{cmd: cmdUnbindResp, seq: p.seq})
			return
		case cmdDeliverSMResp:
			f.mu.Lock()
			f.acks++
			f.mu.Unlock()
			f.event("ack")
		case cmdSubmitSM:
			s, err := parseSubmit(p.body)
			if err != nil {
				f.t.Errorf("fake smsc: bad submit_sm: %v", err)
				write(smppPDU{cmd: cmdGenericNack, status: 0x02, seq: p.seq})
				continue
			}
			f.mu.Lock()
			f.got = append(f.got, s)
			f.nextID++
			id := fmt.Sprintf("M%05d", f.nextID)
			throttled := f.throttle > 0
			if throttled {
				f.throttle--
			}
			f.mu.Unlock()
			var status uint32
			switch {
			case throttled:
				status = 0x58 // ESME_RTHROTTLED
			case s.dst == "15550199911":
				status = 0x0B // ESME_RINVDSTADR
			case s.dst == "15550199945":
				status = 0x45 // ESME_RSUBMITFAIL
			}
			if status != 0 {
				write(smppPDU{cmd: cmdSubmitSMResp, status: status, seq: p.seq, body: cstr("")})
				f.event("submit")
				continue
			}
			write(smppPDU{cmd: cmdSubmitSMResp, seq: p.seq, body: cstr(id)})
			f.event("submit")
			stat := "DELIVRD"
			switch s.dst {
			case "15550199801":
				stat = "UNDELIV"
			case "15550199802":
				stat = "REJECTD"
			}
			text := "id:" + id + " sub:001 dlvrd:001 submit date:2603041010 done date:2603041011 stat:" + stat + " err:000 text:"
			seq++
			var b []byte
			b = append(b, cstr("")...)                 // service_type
			b = append(b, 1, 1)                        // source TON/NPI
			b = append(b, cstr(s.dst)...)              // the handset
			b = append(b, s.srcTON, s.srcNPI)          // dest TON/NPI
			b = append(b, cstr(s.src)...)              // back to the sender
			b = append(b, 0x04, 0, 0)                  // esm_class: SMSC delivery receipt; protocol_id; priority
			b = append(b, cstr("")...)                 // schedule
			b = append(b, cstr("")...)                 // validity
			b = append(b, 0, 0, 0, 0, byte(len(text))) // registered_delivery, replace, data_coding, default_msg_id, sm_length
			b = append(b, text...)
			write(smppPDU{cmd: cmdDeliverSM, seq: seq, body: b})
		default:
			write(smppPDU{cmd: cmdGenericNack, status: 0x03, seq: p.seq})
		}
	}
}

func (f *fakeSMSC) submissions() []submitted {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]submitted(nil), f.got...)
}

func TestSMPPSender(t *testing.T) {
	smsc := newFakeSMSC(t)
	smsc.throttle = 1 // the very first submission is throttled, then retried
	p := sms.NewSMPP(sms.SMPPConfig{Addr: smsc.ln.Addr().String(), SystemID: "switchyard", Password: "secret", SystemType: "sy"})
	t.Cleanup(func() { _ = p.Close() })

	db := migrated(t, storetest.SQLiteDSN)
	final := make(chan *store.SMSMessage, 16)
	s, err := sms.New(db, sms.Config{Provider: p, Backoff: func(int) time.Duration { return time.Millisecond },
		PollInterval: time.Hour, SubmitTimeout: 10 * time.Second, OnFinal: func(m *store.SMSMessage) { final <- m }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)

	long := strings.Repeat("ना", 40) // 80 UTF-16 units: two UCS-2 parts
	reqs := []sms.Request{
		{To: "+15550199001", Body: "Your OTP is 4711", From: "ACMEIN", DltEntityID: "1101", DltTemplateID: "1107", Priority: "high"},
		{To: "+15550199801", Body: "undeliverable", From: "+918047000000"},
		{To: "+15550199802", Body: "rejected", From: "08047000000"},
		{To: "+15550199911", Body: "bad number", From: "ACMEIN"},
		{To: "+15550199945", Body: "submit failed", From: "ACMEIN"},
		{To: "+15550199002", Body: long, From: "ACMEIN"},
	}
	for i := range reqs {
		reqs[i].AccountSID = "acme1"
	}
	rows, err := s.Queue(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*store.SMSMessage{}
	for len(got) < len(rows) {
		select {
		case m := <-final:
			got[m.To] = m
		case <-t.Context().Done():
			t.Fatalf("only %d of %d final: %v", len(got), len(rows), got)
		}
	}
	for to, want := range map[string]sms.Detailed{
		"+15550199001": sms.DeliveredToHandset,
		"+15550199801": sms.Undeliverable,
		"+15550199802": sms.FailedSpam,
		"+15550199911": sms.FailedInvalidNumber,
		"+15550199945": sms.Undeliverable,
		"+15550199002": sms.DeliveredToHandset,
	} {
		m := got[to]
		if m.Status != want.Status || m.DetailedStatusCode != want.Code || m.Provider != "smpp" {
			t.Errorf("%s: %s %d (%s), want %+v", to, m.Status, m.DetailedStatusCode, m.LastError, want)
		}
		if want.Status == store.SMSSent && (m.ProviderMessageID == "" || m.SentAt == nil) {
			t.Errorf("%s: no provider id or DateSent: %+v", to, m)
		}
	}

	subs := smsc.submissions()
	byDst := map[string]submitted{}
	for _, sub := range subs {
		byDst[sub.dst] = sub
	}
	if len(subs) != len(reqs)+1 { // one throttled and retried
		t.Errorf("%d submissions, want %d", len(subs), len(reqs)+1)
	}
	otp := byDst["15550199001"]
	if otp.src != "ACMEIN" || otp.srcTON != 5 || otp.regDeliv != 1 || otp.priority != 1 || otp.dataCoding != 0 ||
		string(otp.short) != "Your OTP is 4711" || string(otp.tlvs[0x1400]) != "1101" || string(otp.tlvs[0x1401]) != "1107" {
		t.Errorf("otp submit_sm: %+v", otp)
	}
	if intl := byDst["15550199801"]; intl.src != "918047000000" || intl.srcTON != 1 || intl.srcNPI != 1 || len(intl.tlvs) != 0 {
		t.Errorf("international source: %+v", intl)
	}
	lsub := byDst["15550199002"]
	payload := lsub.tlvs[0x0424]
	if lsub.dataCoding != 8 || len(lsub.short) != 0 || len(payload) != 160 {
		t.Fatalf("long message: coding %d short %d payload %d", lsub.dataCoding, len(lsub.short), len(payload))
	}
	u := make([]uint16, len(payload)/2)
	for i := range u {
		u[i] = binary.BigEndian.Uint16(payload[2*i:])
	}
	if string(utf16.Decode(u)) != long {
		t.Errorf("payload %q", string(utf16.Decode(u)))
	}
	smsc.mu.Lock()
	binds := append([]string(nil), smsc.binds...)
	smsc.mu.Unlock()
	if len(binds) != 1 || binds[0] != "switchyard/secret/sy" {
		t.Errorf("binds %v", binds)
	}
	// Every receipt was acknowledged.
	for {
		smsc.mu.Lock()
		acks := smsc.acks
		smsc.mu.Unlock()
		if acks == 4 {
			break
		}
		select {
		case <-smsc.events:
		case <-t.Context().Done():
			t.Fatalf("%d receipts acknowledged, want 4", acks)
		}
	}
}

func TestSMPPBindRefused(t *testing.T) {
	smsc := newFakeSMSC(t)
	p := sms.NewSMPP(sms.SMPPConfig{Addr: smsc.ln.Addr().String(), SystemID: "switchyard", Password: "wrong"})
	t.Cleanup(func() { _ = p.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := p.Submit(ctx, sms.Message{From: "ACMEIN", To: "+15550199001", Body: "x", Units: 1})
	var e *sms.Error
	if !errors.As(err, &e) || !e.Temporary || !strings.Contains(err.Error(), "bind") {
		t.Fatalf("Submit = %v, want a temporary bind error", err)
	}
}

func TestParseReceipt(t *testing.T) {
	for text, want := range map[string]sms.Detailed{
		"id:abc123 sub:001 dlvrd:001 submit date:2603041010 done date:2603041011 stat:DELIVRD err:000 text:hi": sms.DeliveredToHandset,
		"id:abc123 sub:001 dlvrd:000 submit date:2603041010 done date:2603041011 stat:UNDELIV err:001 text:":   sms.Undeliverable,
		"id:abc123 stat:EXPIRED err:027": sms.Undeliverable,
		"id:abc123 stat:REJECTD err:000": sms.FailedSpam,
		"ID:abc123 Stat:delivrd":         sms.DeliveredToHandset,
		"id:abc123 stat:ENROUTE":         {},
	} {
		r, ok := sms.ParseReceipt(text)
		if !ok || r.ID != "abc123" || r.Outcome != want {
			t.Errorf("%q: %+v %v, want %+v", text, r, ok, want)
		}
	}
	if _, ok := sms.ParseReceipt("hello"); ok {
		t.Error("a text without stat read as a receipt")
	}
}
