package recarchive

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/braheezy/shine-mp3/pkg/mp3"
)

// Quality selects an MP3 bitrate.
type Quality int

const (
	// Standard is Exotel's "mp3": a modest bitrate for speech.
	Standard Quality = iota
	// High is "mp3-hq".
	High
)

// Encoded describes an MP3 written by Transcode.
type Encoded struct {
	Rate, Channels int
	Bitrate        int // kbit/s
	Frames         int
	// Duration is the audio's length (the samples read).
	Duration time.Duration
	Bytes    int64
}

// Layer III bitrates (kbit/s) by MPEG version: MPEG-1 (32, 44.1, 48 kHz)
// and MPEG-2/2.5 (lower rates). shine's MPEG-2.5 table stops at 64.
var (
	bitratesV1  = []int{32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}
	bitratesV2  = []int{8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}
	bitratesV25 = []int{8, 16, 24, 32, 40, 48, 56, 64}
)

// bitrateIndex is a bitrate's 4-bit code in a Layer III frame header.
func bitrateIndex(table []int, kbps int) int {
	if len(table) == len(bitratesV25) {
		table = bitratesV2 // MPEG-2.5 shares MPEG-2's codes
	}
	for i, b := range table {
		if b == kbps {
			return i + 1
		}
	}
	return -1
}

// pickBitrate chooses the bitrate for a sample rate and channel count:
// per channel, Standard gives 16 kbit/s at 8 kHz, 24 at 16 kHz and 48 at
// higher rates; High doubles those. It returns the MPEG version's table
// too, or nil for a rate MP3 cannot carry.
func pickBitrate(rate, channels int, q Quality) (int, []int) {
	var table []int
	perChannel := 48
	switch rate {
	case 32000, 44100, 48000:
		table = bitratesV1
	case 16000, 22050, 24000:
		table, perChannel = bitratesV2, 24
	case 8000, 11025, 12000:
		table, perChannel = bitratesV25, 16
	default:
		return 0, nil
	}
	want := perChannel * channels
	if q == High {
		want *= 2
	}
	for _, b := range table {
		if b >= want {
			return b, table
		}
	}
	return table[len(table)-1], table
}

// ErrRate: the WAV's sample rate has no MP3 equivalent.
var ErrRate = errors.New("sample rate not supported by MP3")

// Transcode reads a 16-bit PCM WAV (mono, or stereo for dual-channel
// recordings) from src and writes it to dst as constant-bitrate MPEG
// Layer III. It streams: memory use is one frame of samples, whatever
// the recording's length.
func Transcode(dst io.Writer, src io.Reader, q Quality) (Encoded, error) {
	br := bufio.NewReaderSize(src, 64<<10)
	wf, err := readWAVHeader(br)
	if err != nil {
		return Encoded{}, err
	}
	kbps, table := pickBitrate(wf.Rate, wf.Channels, q)
	if table == nil {
		return Encoded{}, fmt.Errorf("transcode %d Hz: %w", wf.Rate, ErrRate)
	}
	enc := mp3.NewEncoder(wf.Rate, wf.Channels)
	setBitrate(enc, kbps, table)
	in := io.Reader(br)
	if wf.DataLen >= 0 {
		in = io.LimitReader(br, wf.DataLen)
	}
	cw := &countWriter{w: dst}
	out := Encoded{Rate: wf.Rate, Channels: wf.Channels, Bitrate: kbps}
	perFrame := int(enc.Mpeg.GranulesPerFrame) * 576 // samples per channel
	// shine walks the samples with unsafe pointers and leaves them one
	// step past the frame (two for the second channel): the slack keeps
	// those pointers inside the allocation, where the garbage collector
	// expects every pointer to be.
	backing := make([]int16, perFrame*wf.Channels+8)
	samples := backing[:perFrame*wf.Channels]
	raw := make([]byte, 2*len(samples))
	var total int64 // sample frames (one sample per channel)
	for {
		n, rerr := io.ReadFull(in, raw)
		n -= n % (2 * wf.Channels) // a torn last sample is dropped
		if n == 0 {
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				break
			}
			if rerr != nil {
				return out, fmt.Errorf("transcode: read samples: %w", rerr)
			}
		}
		for i := range samples {
			if 2*i+1 < n {
				samples[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
			} else {
				samples[i] = 0 // pad the last frame with silence
			}
		}
		// shine's Write encodes one frame per samplesPerPass*2 values
		// handed over; exactly one frame's worth keeps it in step.
		if err := enc.Write(cw, samples); err != nil {
			return out, fmt.Errorf("transcode: write mp3: %w", err)
		}
		out.Frames++
		total += int64(n / (2 * wf.Channels))
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return out, fmt.Errorf("transcode: read samples: %w", rerr)
		}
	}
	out.Duration = time.Duration(total) * time.Second / time.Duration(wf.Rate)
	out.Bytes = cw.n
	return out, nil
}

// setBitrate changes a fresh encoder's bitrate from its default (128
// kbit/s, which MPEG-2.5 cannot carry), redoing what NewEncoder derives
// from it.
func setBitrate(enc *mp3.Encoder, kbps int, table []int) {
	m := &enc.Mpeg
	m.Bitrate = int64(kbps)
	m.BitrateIndex = int64(bitrateIndex(table, kbps))
	// Slots (bytes) per frame, in integers: floating point would make
	// 107.999... of an exact 108 and set the padding bit on frames that
	// are not padded.
	num := m.GranulesPerFrame * 576 * int64(kbps) * 1000
	den := enc.Wave.SampleRate * m.BitsPerSlot
	m.WholeSlotsPerFrame = num / den
	m.FracSlotsPerFrame = float64(num%den) / float64(den)
	m.Slot_lag = -m.FracSlotsPerFrame
	if m.FracSlotsPerFrame == 0 {
		m.Padding = 0
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
