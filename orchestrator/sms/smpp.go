package sms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/linxGnu/gosmpp"
	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// DLT TLVs Indian SMSCs read on submit_sm (TRAI's DLT scheme): the
// principal entity id and the content template id.
const (
	DefaultDLTEntityTag   = 0x1400
	DefaultDLTTemplateTag = 0x1401
)

// SMPPConfig configures an SMPP provider.
type SMPPConfig struct {
	// Addr is the SMSC's host:port.
	Addr                           string
	SystemID, Password, SystemType string
	// EnquireLink is how often the link is probed (default 30 s); a link
	// silent for three times as long is taken for dead and rebound.
	EnquireLink time.Duration
	// Rebind is the wait before binding again after the link dropped
	// (default 5 s).
	Rebind time.Duration
	// DLTEntityTag and DLTTemplateTag are the TLV tags that carry the
	// DLT ids (defaults 0x1400 and 0x1401); a message without the id
	// sends no TLV.
	DLTEntityTag, DLTTemplateTag uint16
	Log                          *slog.Logger
}

// SMPP is an SMPP 3.4 client (ESME) bound as a transceiver: submit_sm
// with registered delivery, the submit_sm_resp's message_id as the
// provider id, and deliver_sm receipts as delivery reports. A body longer
// than one SMS goes in the message_payload TLV (one submit_sm, one id,
// one receipt). It binds on the first Submit and rebinds when the link
// drops; submissions without an answer time out (Sender.SubmitTimeout)
// and are retried.
type SMPP struct {
	cfg SMPPConfig
	log *slog.Logger

	mu      sync.Mutex
	session *gosmpp.Session
	pending map[int32]chan *pdu.SubmitSMResp
	report  ReportFunc
	closed  bool
}

// NewSMPP makes an SMPP provider; it connects on the first Submit.
func NewSMPP(cfg SMPPConfig) *SMPP {
	if cfg.EnquireLink <= 0 {
		cfg.EnquireLink = 30 * time.Second
	}
	if cfg.Rebind <= 0 {
		cfg.Rebind = 5 * time.Second
	}
	if cfg.DLTEntityTag == 0 {
		cfg.DLTEntityTag = DefaultDLTEntityTag
	}
	if cfg.DLTTemplateTag == 0 {
		cfg.DLTTemplateTag = DefaultDLTTemplateTag
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SMPP{cfg: cfg, log: log, pending: map[int32]chan *pdu.SubmitSMResp{}}
}

// Name implements Provider.
func (*SMPP) Name() string { return "smpp" }

// SetReports implements Reporter.
func (p *SMPP) SetReports(f ReportFunc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.report = f
}

// Close unbinds and closes the link.
func (p *SMPP) Close() error {
	p.mu.Lock()
	s := p.session
	p.session, p.closed = nil, true
	p.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.Close()
}

// bound returns the session, binding first if there is none.
func (p *SMPP) bound() (*gosmpp.Session, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("smpp: closed")
	}
	if p.session != nil {
		return p.session, nil
	}
	auth := gosmpp.Auth{SMSC: p.cfg.Addr, SystemID: p.cfg.SystemID, Password: p.cfg.Password, SystemType: p.cfg.SystemType}
	s, err := gosmpp.NewSession(gosmpp.TRXConnector(gosmpp.NonTLSDialer, auth), gosmpp.Settings{
		EnquireLink: p.cfg.EnquireLink,
		ReadTimeout: 3 * p.cfg.EnquireLink,
		OnAllPDU:    p.onPDU,
		OnReceivingError: func(err error) {
			p.log.Warn("smpp: receive", "smsc", p.cfg.Addr, "err", err)
		},
		OnRebindingError: func(err error) {
			p.log.Warn("smpp: rebind", "smsc", p.cfg.Addr, "err", err)
		},
		OnClosed: func(state gosmpp.State) {
			p.log.Warn("smpp: link closed", "smsc", p.cfg.Addr, "state", state.String())
		},
		OnRebind: func() {
			p.log.Info("smpp: bound again", "smsc", p.cfg.Addr)
		},
	}, p.cfg.Rebind)
	if err != nil {
		return nil, fmt.Errorf("smpp: bind to %s: %w", p.cfg.Addr, err)
	}
	p.log.Info("smpp: bound as transceiver", "smsc", p.cfg.Addr, "system_id", p.cfg.SystemID)
	p.session = s
	return s, nil
}

// onPDU handles what the SMSC sends: answers to our submissions, delivery
// receipts (answered with deliver_sm_resp), and the link's own PDUs.
func (p *SMPP) onPDU(in pdu.PDU) (pdu.PDU, bool) {
	switch v := in.(type) {
	case *pdu.SubmitSMResp:
		p.mu.Lock()
		ch, ok := p.pending[v.GetSequenceNumber()]
		delete(p.pending, v.GetSequenceNumber())
		p.mu.Unlock()
		if ok {
			ch <- v
		}
		return nil, false
	case *pdu.DeliverSM:
		p.onDeliver(v)
		return v.GetResponse(), false
	case *pdu.EnquireLink:
		return v.GetResponse(), false
	case *pdu.Unbind:
		return v.GetResponse(), true
	case *pdu.GenericNack:
		p.mu.Lock()
		ch, ok := p.pending[v.GetSequenceNumber()]
		delete(p.pending, v.GetSequenceNumber())
		p.mu.Unlock()
		if ok {
			resp := pdu.NewSubmitSMResp().(*pdu.SubmitSMResp)
			resp.CommandStatus = v.CommandStatus
			ch <- resp
		}
		return nil, false
	}
	if in.CanResponse() {
		return in.GetResponse(), false
	}
	return nil, false
}

// Submit implements Provider.
func (p *SMPP) Submit(ctx context.Context, m Message) (Receipt, error) {
	sm, err := p.submitSM(m)
	if err != nil {
		return Receipt{}, Permanent(Undeliverable, err)
	}
	s, err := p.bound()
	if err != nil {
		return Receipt{}, Temporary(err)
	}
	seq := sm.GetSequenceNumber()
	ch := make(chan *pdu.SubmitSMResp, 1)
	p.mu.Lock()
	p.pending[seq] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.pending, seq)
		p.mu.Unlock()
	}()
	if err := s.Transceiver().Submit(sm); err != nil {
		return Receipt{}, Temporary(fmt.Errorf("smpp: submit_sm: %w", err))
	}
	select {
	case resp := <-ch:
		if resp.CommandStatus == data.ESME_ROK {
			return Receipt{ID: resp.MessageID}, nil
		}
		return Receipt{}, submitError(resp.CommandStatus)
	case <-ctx.Done():
		return Receipt{}, Temporary(fmt.Errorf("smpp: no submit_sm_resp: %w", ctx.Err()))
	}
}

// submitSM builds the submit_sm of m.
func (p *SMPP) submitSM(m Message) (*pdu.SubmitSM, error) {
	sm := pdu.NewSubmitSM().(*pdu.SubmitSM)
	src, err := smppAddress(m.From)
	if err != nil {
		return nil, fmt.Errorf("smpp: From %q: %w", m.From, err)
	}
	dst, err := smppAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("smpp: To %q: %w", m.To, err)
	}
	sm.SourceAddr, sm.DestAddr = src, dst
	sm.RegisteredDelivery = 1 // a receipt on success and on failure
	if strings.EqualFold(m.Priority, "high") {
		sm.PriorityFlag = 1
	}
	var enc data.Encoding = data.GSM7BIT
	if m.UCS2 {
		enc = data.UCS2
	}
	if m.Units <= 1 {
		if sm.Message, err = pdu.NewShortMessageWithEncoding(m.Body, enc); err != nil {
			return nil, fmt.Errorf("smpp: encode: %w", err)
		}
	} else {
		payload, err := enc.Encode(m.Body)
		if err != nil {
			return nil, fmt.Errorf("smpp: encode: %w", err)
		}
		if sm.Message, err = pdu.NewShortMessageWithEncoding("", enc); err != nil {
			return nil, fmt.Errorf("smpp: encode: %w", err)
		}
		sm.RegisterOptionalParam(pdu.Field{Tag: pdu.TagMessagePayload, Data: payload})
	}
	if m.DltEntityID != "" {
		sm.RegisterOptionalParam(pdu.Field{Tag: pdu.Tag(p.cfg.DLTEntityTag), Data: []byte(m.DltEntityID)})
	}
	if m.DltTemplateID != "" {
		sm.RegisterOptionalParam(pdu.Field{Tag: pdu.Tag(p.cfg.DLTTemplateTag), Data: []byte(m.DltTemplateID)})
	}
	return sm, nil
}

// smppAddress picks the TON/NPI of an address: international for
// +digits, unknown for other digits, alphanumeric for a sender ID.
func smppAddress(v string) (pdu.Address, error) {
	v = strings.TrimSpace(v)
	switch {
	case strings.HasPrefix(v, "+") && allDigits(v[1:]):
		return pdu.NewAddressWithTonNpiAddr(1, 1, v[1:])
	case allDigits(v):
		return pdu.NewAddressWithTonNpiAddr(0, 1, v)
	}
	return pdu.NewAddressWithTonNpiAddr(5, 0, v)
}

// submitError classifies a submit_sm_resp's error status.
func submitError(st data.CommandStatusType) error {
	err := fmt.Errorf("smpp: submit_sm refused: %s (0x%08X)", st.Desc(), uint32(st))
	switch st {
	case data.ESME_RTHROTTLED, data.ESME_RMSGQFUL, data.ESME_RSYSERR:
		return Temporary(err)
	case data.ESME_RINVDSTADR:
		return Permanent(FailedInvalidNumber, err)
	case data.ESME_RINVSRCADR:
		return Permanent(FailedInvalidSender, err)
	}
	return Permanent(Undeliverable, err)
}

// onDeliver turns a delivery receipt into a report. Other deliver_sm
// (messages from phones) are acknowledged and dropped: no flows run for
// inbound SMS.
func (p *SMPP) onDeliver(d *pdu.DeliverSM) {
	if d.EsmClass&0x3C != 0x04 { // not an SMSC delivery receipt
		p.log.Info("smpp: inbound message dropped", "from", d.SourceAddr.Address())
		return
	}
	text, _ := d.Message.GetMessage()
	r, ok := ParseReceipt(text)
	if id, ok := d.OptionalParameters[pdu.TagReceiptedMessageID]; ok {
		r.ID = strings.TrimRight(string(id.Data), "\x00")
	}
	if !ok || r.ID == "" {
		p.log.Warn("smpp: unreadable delivery receipt", "text", text)
		return
	}
	if !r.Outcome.Final() {
		return // ACCEPTD, ENROUTE: not an outcome yet
	}
	p.mu.Lock()
	report := p.report
	p.mu.Unlock()
	if report == nil {
		p.log.Warn("smpp: delivery receipt with nowhere to go", "id", r.ID)
		return
	}
	// The receive loop must not wait on the database.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		report(ctx, r)
	}()
}

var receiptField = regexp.MustCompile(`(?i)(id|stat|err):(\S*)`)

// ParseReceipt reads the text of an SMSC delivery receipt ("id:… sub:…
// dlvrd:… submit date:… done date:… stat:DELIVRD err:… text:…") into a
// report: DELIVRD is DeliveredToHandset; UNDELIV, EXPIRED, DELETED and
// UNKNOWN Undeliverable; REJECTD FailedSpam (the operator refused it).
// ENROUTE and ACCEPTD give a zero outcome (not final).
func ParseReceipt(text string) (Report, bool) {
	var r Report
	var stat, errCode string
	for _, m := range receiptField.FindAllStringSubmatch(text, -1) {
		switch strings.ToLower(m[1]) {
		case "id":
			if r.ID == "" {
				r.ID = m[2]
			}
		case "stat":
			stat = strings.ToUpper(m[2])
		case "err":
			errCode = m[2]
		}
	}
	if stat == "" {
		return r, false
	}
	switch stat {
	case "DELIVRD":
		r.Outcome = DeliveredToHandset
	case "UNDELIV", "EXPIRED", "DELETED", "UNKNOWN":
		r.Outcome = Undeliverable
	case "REJECTD":
		r.Outcome = FailedSpam
	case "ENROUTE", "ACCEPTD":
		return r, true
	default:
		return r, false
	}
	if r.Outcome != DeliveredToHandset {
		r.Err = "smsc receipt: stat:" + stat + " err:" + errCode
	}
	return r, true
}
