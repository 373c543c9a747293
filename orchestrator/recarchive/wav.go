package recarchive

import (
	"errors"
	"fmt"
	"io"

	"github.com/switchyard/switchyard/orchestrator/wavfile"
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
	h, err := wavfile.ReadHeader(r)
	if errors.Is(err, wavfile.ErrNotWAV) {
		return wavFormat{}, fmt.Errorf("%w: %w", errNotWAV, err)
	}
	if err != nil {
		return wavFormat{}, err
	}
	if h.Format != wavfile.PCM || h.Bits != 16 || h.Channels < 1 || h.Channels > 2 || h.Rate <= 0 {
		return wavFormat{}, fmt.Errorf("wav format %d, %d bits, %d channels: %w", h.Format, h.Bits, h.Channels, errNotWAV)
	}
	f := wavFormat{Rate: h.Rate, Channels: h.Channels, DataLen: int64(h.DataSize)}
	if h.DataSize == 0 || h.DataSize == wavfile.Unfinalised {
		f.DataLen = -1
	}
	return f, nil
}
