package sms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// TestNetwork is the test phone network's SMS side: the provider of
// `make run` and of the tests. Like the voice magic numbers, it acts on
// the fictional +1 555 01xx range (with or without the +):
//
//	+15550100501 … +15550100599  delivered to the operator only: sent, 20006
//	+15550100601 … +15550100699  recipient on DND: failed-dnd, 23005
//	+15550100701 … +15550100799  invalid number: failed, 23010
//	+155501008NN                 the first NN submissions fail temporarily,
//	                             then delivered to the handset (+15550100801:
//	                             delivered on the first retry)
//	+155501009NN                 refused for good: NN 20 blacklisted (23020),
//	                             72 invalid sender (23072), 80–83 DLT
//	                             (2308x), anything else spam (23015)
//
// Any other number is delivered to the handset: sent, 20005. Outcomes are
// known at submission (no delivery report follows). It keeps no state:
// the attempt number comes with the message.
type TestNetwork struct{}

// Name implements Provider.
func (TestNetwork) Name() string { return "testnet" }

// Submit implements Provider.
func (TestNetwork) Submit(ctx context.Context, m Message) (Receipt, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, Temporary(err)
	}
	id := "tn-" + randomID()
	digits := strings.TrimPrefix(strings.TrimSpace(m.To), "+")
	rest, ok := strings.CutPrefix(digits, "15550100")
	if !ok || len(rest) != 3 || !allDigits(rest) {
		return Receipt{ID: id, Final: DeliveredToHandset}, nil
	}
	nn, _ := strconv.Atoi(rest[1:])
	switch rest[0] {
	case '5':
		return Receipt{ID: id, Final: DeliveredToOperator}, nil
	case '6':
		return Receipt{}, Permanent(FailedDND, errors.New("test network: recipient is on the DND registry"))
	case '7':
		return Receipt{}, Permanent(FailedInvalidNumber, errors.New("test network: no such subscriber"))
	case '8':
		if m.Attempt <= nn {
			return Receipt{}, Temporary(fmt.Errorf("test network: operator busy (attempt %d of %d failing)", m.Attempt, nn))
		}
		return Receipt{ID: id, Final: DeliveredToHandset}, nil
	case '9':
		outcome := FailedSpam
		if d, ok := ByCode(23000 + nn); ok && d.Status == FailedSpam.Status && nn >= 15 {
			outcome = d
		}
		return Receipt{}, Permanent(outcome, errors.New("test network: refused by the operator"))
	}
	return Receipt{ID: id, Final: DeliveredToHandset}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
