// Package sms sends Exotel SMS v1 messages, from the API and from flows'
// SMS applets, through one durable path: a message is written queued
// (store.SMSMessages), a Sender claims due messages, hands each to a
// Provider (the test phone network, an HTTP gateway or an SMPP 3.4
// SMSC), retries temporary failures with backoff, records the final
// status (from the submission or from a delivery report) and writes the
// message's StatusCallback to the callback outbox in the same
// transaction.
//
// # Statuses
//
// Status and DetailedStatus/DetailedStatusCode are Exotel's: queued
// (21010 PENDING_TO_OPERATOR), sending (21015), submitted (21020), then
// sent (20005 DELIVERED_TO_HANDSET, 20006 DELIVERED_TO_OPERATOR),
// failed-dnd (23005) or failed (23010 invalid number, 23015 spam, 23020
// blacklisted, 23072 invalid sender, 23080–23083 DLT). The names of
// 21015 and 21020 are ours (Exotel documents only the codes). Exotel has
// no code for a failure without a known reason (retries used up, a
// gateway's unexplained refusal, an SMSC's UNDELIV or EXPIRED receipt):
// those are reported as 23010, the closest "could not be delivered to
// this number".
package sms

import (
	"github.com/switchyard/switchyard/orchestrator/store"
)

// Detailed is an outcome: Exotel's Status with its DetailedStatus and
// DetailedStatusCode.
type Detailed struct {
	Status string
	Name   string
	Code   int
}

// Final reports whether d ends a message (sent or failed).
func (d Detailed) Final() bool {
	switch d.Status {
	case store.SMSSent, store.SMSFailed, store.SMSFailedDND:
		return true
	}
	return false
}

// The outcomes.
var (
	Queued    = Detailed{store.SMSQueued, "PENDING_TO_OPERATOR", 21010}
	Sending   = Detailed{store.SMSSending, "SENDING_TO_OPERATOR", 21015}
	Submitted = Detailed{store.SMSSubmitted, "SUBMITTED_TO_OPERATOR", 21020}

	DeliveredToHandset  = Detailed{store.SMSSent, "DELIVERED_TO_HANDSET", 20005}
	DeliveredToOperator = Detailed{store.SMSSent, "DELIVERED_TO_OPERATOR", 20006}

	FailedDND           = Detailed{store.SMSFailedDND, "FAILED_DND", 23005}
	FailedInvalidNumber = Detailed{store.SMSFailed, "FAILED_INVALID_NUMBER", 23010}
	FailedSpam          = Detailed{store.SMSFailed, "FAILED_SPAM", 23015}
	FailedBlacklisted   = Detailed{store.SMSFailed, "FAILED_BLACKLISTED", 23020}
	FailedInvalidSender = Detailed{store.SMSFailed, "FAILED_INVALID_SENDER", 23072}
	FailedDLTScrubbing  = Detailed{store.SMSFailed, "FAILED_DLT_SCRUBBING", 23080}
	FailedDLTEntity     = Detailed{store.SMSFailed, "FAILED_DLT_ENTITY", 23081}
	FailedDLTTemplate   = Detailed{store.SMSFailed, "FAILED_DLT_TEMPLATE", 23082}
	FailedDLTConsent    = Detailed{store.SMSFailed, "FAILED_DLT_CONSENT", 23083}

	// Undeliverable is the outcome of a failure without a known reason
	// (see the package doc).
	Undeliverable = FailedInvalidNumber
)

// ByCode returns the outcome with Exotel code code.
func ByCode(code int) (Detailed, bool) {
	for _, d := range []Detailed{Queued, Sending, Submitted, DeliveredToHandset, DeliveredToOperator,
		FailedDND, FailedInvalidNumber, FailedSpam, FailedBlacklisted, FailedInvalidSender,
		FailedDLTScrubbing, FailedDLTEntity, FailedDLTTemplate, FailedDLTConsent} {
		if d.Code == code {
			return d, true
		}
	}
	return Detailed{}, false
}
