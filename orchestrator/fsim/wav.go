package fsim

import (
	"bufio"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/orchestrator/wavfile"
)

// prepareRecording makes sure a recording can be written at path.
func prepareRecording(path string) error {
	if path == "" {
		return os.ErrInvalid
	}
	return os.MkdirAll(filepath.Dir(path), 0o755)
}

// writeWAV writes a valid 8 kHz mono 16-bit PCM WAV file of ms milliseconds:
// a quiet 440 Hz tone for the first toneMs (the audio that arrived),
// silence after. It returns the file size (44 bytes for ms = 0).
func writeWAV(path string, ms, toneMs int64) (int64, error) {
	return writeWAVTones(path, ms, toneMs, nil)
}

// writeWAVTones is writeWAV with tones the channel heard from the node
// (spans relative to the recording's start) written over it at their
// frequency.
//
// A recording can be long (a call held for minutes is megabytes) and is
// written while the node's lock is held, as FreeSWITCH has the file
// complete when it reports RECORD_STOP: so the audio is copied from one
// period of each tone computed once, not a sine a sample, silence is left
// as a hole in a sparse file, and the file is written through a small
// buffer rather than built whole in memory.
func writeWAVTones(path string, ms, toneMs int64, tones []toneSpan) (size int64, err error) {
	if ms < 0 {
		ms = 0
	}
	samples := ms * 8
	dataLen := samples * 2
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	w := wavWriter{f: f, buf: make([]byte, 0, 64<<10)}
	w.write(wavHeader(dataLen))
	for _, p := range paintTones(samples, toneMs*8, tones) {
		if p.tone == nil {
			w.skip(2 * (p.to - p.from))
			continue
		}
		w.tone(p.tone, p.from, p.to)
	}
	w.flush()
	if w.err != nil {
		return 0, w.err
	}
	// a recording that ends in silence ends in a hole: give the file its length
	if err := f.Truncate(44 + dataLen); err != nil {
		return 0, err
	}
	return 44 + dataLen, nil
}

// wavHeader is the 44-byte header of an 8 kHz mono 16-bit PCM WAV with
// dataLen bytes of samples.
func wavHeader(dataLen int64) []byte {
	b := make([]byte, 44)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+dataLen))
	copy(b[8:], "WAVE")
	copy(b[12:], "fmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], 8000)
	binary.LittleEndian.PutUint32(b[28:], 16000) // byte rate
	binary.LittleEndian.PutUint16(b[32:], 2)     // block align
	binary.LittleEndian.PutUint16(b[34:], 16)    // bits per sample
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(dataLen))
	return b
}

// sine is a tone in a recording: freq at amp, its phase counted from the
// recording's first sample.
type sine struct {
	freq float64
	amp  float64
}

// piece is samples [from, to) of a recording: a tone, or silence (nil).
type piece struct {
	from, to int64
	tone     *sine
}

// paintTones cuts a recording of n samples into pieces: the 440 Hz tone
// of the audio that arrived for its first arrived samples, silence after,
// and over them the tones heard from the node, a later span over an
// earlier one.
func paintTones(n, arrived int64, tones []toneSpan) []piece {
	cuts := []int64{0, n, min(max(arrived, 0), n)}
	spans := make([]piece, 0, len(tones))
	for _, t := range tones {
		from, to := max(t.fromUS/125, 0), min(t.toUS/125, n) // 125 µs a sample at 8 kHz
		if from < to {
			spans = append(spans, piece{from: from, to: to, tone: &sine{freq: t.freq, amp: 4000}})
			cuts = append(cuts, from, to)
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	base := &sine{freq: 440, amp: 2000}
	var out []piece
	for i := 0; i+1 < len(cuts); i++ {
		p := piece{from: cuts[i], to: cuts[i+1]}
		if p.from < arrived {
			p.tone = base
		}
		for j := len(spans) - 1; j >= 0; j-- {
			if s := spans[j]; s.from <= p.from && p.to <= s.to {
				p.tone = s.tone
				break
			}
		}
		if n := len(out); n > 0 && out[n-1].tone == p.tone {
			out[n-1].to = p.to
			continue
		}
		out = append(out, p)
	}
	return out
}

// wavWriter writes a WAV's samples through a buffer, leaving holes for
// silence; the first error sticks.
type wavWriter struct {
	f   *os.File
	buf []byte
	err error
}

func (w *wavWriter) write(b []byte) {
	if w.err != nil {
		return
	}
	if len(w.buf)+len(b) > cap(w.buf) { // every b is at most a period: 16,000 bytes
		w.flush()
	}
	w.buf = append(w.buf, b...)
}

func (w *wavWriter) flush() {
	if w.err == nil && len(w.buf) > 0 {
		_, w.err = w.f.Write(w.buf)
	}
	w.buf = w.buf[:0]
}

// silence is written as bytes when a hole would be smaller than it.
var silence [4096]byte

// skip leaves n bytes of silence: a hole, unless it is short.
func (w *wavWriter) skip(n int64) {
	if n <= int64(len(silence)) {
		w.write(silence[:n])
		return
	}
	w.flush()
	if w.err == nil {
		_, w.err = w.f.Seek(n, io.SeekCurrent)
	}
}

// tone writes samples [from, to) of t.
func (w *wavWriter) tone(t *sine, from, to int64) {
	period := t.period()
	if period == nil {
		var b [2]byte
		for i := from; i < to; i++ {
			binary.LittleEndian.PutUint16(b[:], uint16(t.sample(i)))
			w.write(b[:])
		}
		return
	}
	p := int64(len(period) / 2)
	for i := from; i < to; {
		k := i % p
		m := min(p-k, to-i)
		w.write(period[2*k : 2*(k+m)])
		i += m
	}
}

func (t *sine) sample(i int64) int16 {
	return int16(t.amp * math.Sin(2*math.Pi*t.freq*float64(i)/8000))
}

// periods holds one period of each whole-numbered tone written so far.
var periods sync.Map // sine -> []byte

// period is one period of t as little-endian samples, or nil for a tone
// whose frequency is not a whole number of hertz. A tone of f Hz at 8 kHz
// repeats exactly every 8000/gcd(f, 8000) samples (440 Hz: 200, 11
// cycles), so copying it gives the samples computed one by one (to within
// the last bit's rounding: the copies' phase is the more exact).
func (t *sine) period() []byte {
	if t.freq != math.Trunc(t.freq) || t.freq <= 0 || t.freq >= 8000 {
		return nil
	}
	if b, ok := periods.Load(*t); ok {
		return b.([]byte)
	}
	n := int64(8000 / gcd(int64(t.freq), 8000))
	b := make([]byte, 2*n)
	for i := range n {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(t.sample(i)))
	}
	periods.Store(*t, b)
	return b
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// wavLength reads the length of a WAV file from its header (data bytes
// over the byte rate); ok is false for anything else.
func wavLength(path string) (time.Duration, bool) {
	if !strings.EqualFold(filepath.Ext(path), ".wav") {
		return 0, false
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	h, err := wavfile.ReadHeader(bufio.NewReader(f))
	if err != nil {
		return 0, false
	}
	return h.Duration()
}
