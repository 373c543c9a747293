package sms

import (
	"strings"
	"unicode/utf16"
)

// Encodings of a message body (Exotel's EncodingType).
const (
	EncodingPlain   = "plain"
	EncodingUnicode = "unicode"
)

// gsmBasic is the GSM 03.38 default alphabet (one septet each);
// gsmExtension the characters sent as escape + septet (two each).
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "\f^{}\\[~]|€"
)

// septets returns how many GSM-7 septets body takes, or false if it has a
// character GSM-7 cannot carry.
func septets(body string) (int, bool) {
	n := 0
	for _, r := range body {
		switch {
		case strings.ContainsRune(gsmBasic, r):
			n++
		case strings.ContainsRune(gsmExtension, r):
			n += 2
		default:
			return 0, false
		}
	}
	return n, true
}

// UCS2 reports whether body goes out as UCS-2: when encoding is unicode,
// or when GSM-7 cannot carry it.
func UCS2(body, encoding string) bool {
	if strings.EqualFold(encoding, EncodingUnicode) {
		return true
	}
	_, ok := septets(body)
	return !ok
}

// Units returns how many SMS segments body takes: GSM-7 holds 160
// septets in one SMS and 153 per part of a longer one; UCS-2 70 and 67
// UTF-16 code units. An empty body is one SMS.
func Units(body, encoding string) int {
	if !UCS2(body, encoding) {
		n, _ := septets(body)
		return segments(n, 160, 153)
	}
	return segments(len(utf16.Encode([]rune(body))), 70, 67)
}

func segments(n, single, part int) int {
	if n <= single {
		return 1
	}
	return (n + part - 1) / part
}
