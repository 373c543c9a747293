package recarchive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// wavFormat is what the archiver needs of a PCM WAV file.
type wavFormat struct {
	Rate     int
	Channels int
	// DataLen is the byte length of the samples, -1 when the header does
	// not say (a file whose writer never finalised it): read to the end.
	DataLen int64
}

// errNotWAV: the file is not 16-bit PCM WAV.
var errNotWAV = errors.New("not a 16-bit PCM WAV file")

// readWAVHeader reads r up to the first sample.
func readWAVHeader(r io.Reader) (wavFormat, error) {
	var f wavFormat
	var head [12]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return f, fmt.Errorf("wav header: %w", err)
	}
	if string(head[0:4]) != "RIFF" || string(head[8:12]) != "WAVE" {
		return f, fmt.Errorf("wav header: %w", errNotWAV)
	}
	haveFmt := false
	for {
		var ck [8]byte
		if _, err := io.ReadFull(r, ck[:]); err != nil {
			return f, fmt.Errorf("wav chunk: %w", err)
		}
		size := int64(binary.LittleEndian.Uint32(ck[4:]))
		switch string(ck[0:4]) {
		case "fmt ":
			if size < 16 || size > 1024 {
				return f, fmt.Errorf("wav fmt chunk of %d bytes: %w", size, errNotWAV)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return f, fmt.Errorf("wav fmt chunk: %w", err)
			}
			tag := binary.LittleEndian.Uint16(b[0:])
			f.Channels = int(binary.LittleEndian.Uint16(b[2:]))
			f.Rate = int(binary.LittleEndian.Uint32(b[4:]))
			bits := binary.LittleEndian.Uint16(b[14:])
			const pcm, extensible = 1, 0xFFFE
			if tag == extensible && size >= 40 {
				tag = binary.LittleEndian.Uint16(b[24:]) // the sub-format GUID starts with the tag
			}
			if tag != pcm || bits != 16 || f.Channels < 1 || f.Channels > 2 || f.Rate <= 0 {
				return f, fmt.Errorf("wav format %d, %d bits, %d channels: %w", tag, bits, f.Channels, errNotWAV)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return f, fmt.Errorf("wav data before fmt: %w", errNotWAV)
			}
			f.DataLen = size
			if size == 0 || size == 0xFFFFFFFF {
				f.DataLen = -1
			}
			return f, nil
		default:
			if _, err := io.CopyN(io.Discard, r, size+size%2); err != nil {
				return f, fmt.Errorf("wav chunk %q: %w", ck[0:4], err)
			}
		}
	}
}
