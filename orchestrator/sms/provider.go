package sms

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Message is what a Provider is asked to send.
type Message struct {
	SID, AccountSID, CallSID string
	From, To, Body           string
	// UCS2: send as UCS-2 (else GSM-7); Units is the number of segments.
	UCS2  bool
	Units int
	// Priority is normal or high; SmsType transactional,
	// transactional_opt_in or promotional.
	Priority, SmsType string
	// DltEntityID and DltTemplateID are India's DLT registration ids.
	DltEntityID, DltTemplateID string
	// Attempt is 1 for the first submission, 2 for the first retry, …
	Attempt int
}

// Receipt is a provider's answer to an accepted submission.
type Receipt struct {
	// ID is the provider's id for the message, which its delivery
	// reports name.
	ID string
	// Final, when set (Code ≠ 0), is the message's outcome, known at
	// submission: no delivery report follows. Zero: the message is
	// submitted, and a Report will tell its outcome.
	Final Detailed
}

// Provider hands messages to a network.
type Provider interface {
	// Name identifies the provider in records (and, with the id,
	// matches delivery reports to messages).
	Name() string
	// Submit sends m. A failure is an *Error (Temporary or not); any
	// other error counts as temporary.
	Submit(ctx context.Context, m Message) (Receipt, error)
}

// Report is a delivery report: the outcome of the message the provider
// knows as ID.
type Report struct {
	ID      string
	Outcome Detailed
	// At is when the network says it happened (zero: on arrival).
	At time.Time
	// Err describes a failure, for the record.
	Err string
}

// ReportFunc takes delivery reports.
type ReportFunc func(ctx context.Context, r Report)

// Reporter is a Provider whose delivery reports arrive after the
// submission: the Sender gives it where to send them before its first
// Submit.
type Reporter interface {
	SetReports(f ReportFunc)
}

// Error is a failed submission.
type Error struct {
	// Temporary failures are retried; others end the message with
	// Outcome (Undeliverable when zero).
	Temporary bool
	Outcome   Detailed
	Err       error
}

func (e *Error) Error() string {
	kind := "permanent"
	if e.Temporary {
		kind = "temporary"
	}
	if e.Outcome.Code != 0 {
		return fmt.Sprintf("%s failure (%s): %v", kind, e.Outcome.Name, e.Err)
	}
	return fmt.Sprintf("%s failure: %v", kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary wraps err as a failure worth retrying.
func Temporary(err error) error { return &Error{Temporary: true, Err: err} }

// Permanent wraps err as a failure that ends the message with outcome.
func Permanent(outcome Detailed, err error) error { return &Error{Outcome: outcome, Err: err} }

// classify reads a Submit error: whether to retry, and the outcome if not.
func classify(err error) (temporary bool, outcome Detailed) {
	var e *Error
	if !errors.As(err, &e) {
		return true, Detailed{}
	}
	if e.Temporary {
		return true, Detailed{}
	}
	if e.Outcome.Code == 0 || !e.Outcome.Final() {
		return false, Undeliverable
	}
	return false, e.Outcome
}
