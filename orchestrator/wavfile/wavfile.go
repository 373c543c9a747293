// Package wavfile reads the header of a RIFF WAVE file: the format of its
// samples and how many bytes of them its data chunk says it holds. The
// recording archiver reads it before transcoding a recording, and the
// FreeSWITCH emulator to know how long a prompt file plays.
package wavfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// PCM is the format tag of linear PCM samples.
const PCM = 1

// extensible is the tag of WAVE_FORMAT_EXTENSIBLE, whose real tag starts
// its sub-format GUID.
const extensible = 0xFFFE

// Unfinalised is a data chunk's size as a writer that never went back to
// fill it in may leave it (0 is the other such value).
const Unfinalised = 0xFFFFFFFF

// maxFmt bounds the format chunk read: its largest standard form is 40
// bytes.
const maxFmt = 1024

// ErrNotWAV: the stream is not a WAVE file this package can read.
var ErrNotWAV = errors.New("not a WAV file")

// Header is what a WAV file's header says of its samples.
type Header struct {
	// Format is the format tag (PCM; an extensible file's sub-format).
	Format   uint16
	Channels int
	// Rate is in samples a second, ByteRate in bytes a second.
	Rate     int
	ByteRate int
	Bits     int
	// DataSize is the byte length the data chunk states: 0 or
	// Unfinalised when the writer never filled it in.
	DataSize uint32
}

// Duration is how long the stated samples play; false when the header
// does not say: no byte rate, or a size left Unfinalised (a size of 0,
// the other value a writer may leave, plays for 0).
func (h Header) Duration() (time.Duration, bool) {
	if h.ByteRate <= 0 || h.DataSize == Unfinalised {
		return 0, false
	}
	return time.Duration(int64(h.DataSize) * int64(time.Second) / int64(h.ByteRate)), true
}

// ReadHeader reads r up to the first sample: the RIFF header, the format
// chunk and any chunk before the data chunk (skipped).
func ReadHeader(r io.Reader) (Header, error) {
	var h Header
	var head [12]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return h, fmt.Errorf("wav header: %w", err)
	}
	if string(head[0:4]) != "RIFF" || string(head[8:12]) != "WAVE" {
		return h, fmt.Errorf("wav header: %w", ErrNotWAV)
	}
	haveFmt := false
	for {
		var ck [8]byte
		if _, err := io.ReadFull(r, ck[:]); err != nil {
			return h, fmt.Errorf("wav chunk: %w", err)
		}
		size := binary.LittleEndian.Uint32(ck[4:])
		switch string(ck[0:4]) {
		case "fmt ":
			if size < 16 || size > maxFmt {
				return h, fmt.Errorf("wav fmt chunk of %d bytes: %w", size, ErrNotWAV)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return h, fmt.Errorf("wav fmt chunk: %w", err)
			}
			h.Format = binary.LittleEndian.Uint16(b[0:])
			h.Channels = int(binary.LittleEndian.Uint16(b[2:]))
			h.Rate = int(binary.LittleEndian.Uint32(b[4:]))
			h.ByteRate = int(binary.LittleEndian.Uint32(b[8:]))
			h.Bits = int(binary.LittleEndian.Uint16(b[14:]))
			if h.Format == extensible && size >= 40 {
				h.Format = binary.LittleEndian.Uint16(b[24:])
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return h, fmt.Errorf("wav data before fmt: %w", ErrNotWAV)
			}
			h.DataSize = size
			return h, nil
		default:
			if _, err := io.CopyN(io.Discard, r, int64(size)+int64(size%2)); err != nil {
				return h, fmt.Errorf("wav chunk %q: %w", ck[0:4], err)
			}
		}
	}
}
