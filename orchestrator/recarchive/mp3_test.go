package recarchive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// makeWAV builds a 16-bit PCM WAV of a tone (a different one per
// channel); extra chunks before data test the parser's skipping.
func makeWAV(rate, channels int, d time.Duration, extra bool) []byte {
	n := int(int64(rate) * int64(d) / int64(time.Second))
	var b bytes.Buffer
	data := make([]byte, 2*n*channels)
	for i := 0; i < n; i++ {
		for c := 0; c < channels; c++ {
			v := int16(6000 * math.Sin(2*math.Pi*float64(440*(c+1))*float64(i)/float64(rate)))
			binary.LittleEndian.PutUint16(data[2*(i*channels+c):], uint16(v))
		}
	}
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(0)) // writers that never finalise leave sizes like this
	b.WriteString("WAVE")
	b.WriteString("fmt ")
	le(uint32(16))
	le(uint16(1))
	le(uint16(channels))
	le(uint32(rate))
	le(uint32(rate * 2 * channels))
	le(uint16(2 * channels))
	le(uint16(16))
	if extra {
		b.WriteString("LIST")
		le(uint32(5))
		b.WriteString("abcde\x00") // odd size, padded
	}
	b.WriteString("data")
	le(uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

func TestTranscode(t *testing.T) {
	for _, tc := range []struct {
		name           string
		rate, channels int
		q              Quality
		kbps           int
	}{
		{"8k mono", 8000, 1, Standard, 16},
		{"8k mono hq", 8000, 1, High, 32},
		{"8k dual", 8000, 2, Standard, 32},
		{"8k dual hq", 8000, 2, High, 64},
		{"16k mono", 16000, 1, Standard, 24},
		{"16k dual hq", 16000, 2, High, 96},
		{"48k mono", 48000, 1, Standard, 48},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wav := makeWAV(tc.rate, tc.channels, 3*time.Second+300*time.Millisecond, tc.channels == 2)
			var out bytes.Buffer
			enc, err := Transcode(&out, bytes.NewReader(wav), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if enc.Bitrate != tc.kbps || enc.Bytes != int64(out.Len()) || enc.Duration != 3300*time.Millisecond {
				t.Fatalf("encoded %+v, want %d kbit/s, 3.3s, %d bytes", enc, tc.kbps, out.Len())
			}
			info, err := ScanMP3(bytes.NewReader(out.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if info.Rate != tc.rate || info.Channels != tc.channels || info.Bitrate != tc.kbps || info.Frames != enc.Frames {
				t.Fatalf("scanned %+v, encoded %+v", info, enc)
			}
			// The last frame is padded: at most one frame longer.
			frame := time.Duration(1152) * time.Second / time.Duration(tc.rate)
			if tc.rate < 32000 {
				frame /= 2
			}
			if info.Duration < enc.Duration || info.Duration > enc.Duration+frame {
				t.Fatalf("mp3 lasts %v, wav %v", info.Duration, enc.Duration)
			}
			// Constant bitrate: the size follows from the duration.
			want := int64(tc.kbps) * 1000 / 8 * int64(info.Duration) / int64(time.Second)
			if d := int64(out.Len()) - want; d < -want/50 || d > want/50 {
				t.Fatalf("%d bytes for %v at %d kbit/s, want about %d", out.Len(), info.Duration, tc.kbps, want)
			}
		})
	}
}

// An empty recording makes an empty MP3; what is not 16-bit PCM WAV at
// an MP3 sample rate is refused.
func TestTranscodeEmptyAndBad(t *testing.T) {
	empty := makeWAV(8000, 1, 0, false)
	var out bytes.Buffer
	enc, err := Transcode(&out, bytes.NewReader(empty), Standard)
	if err != nil || enc.Frames != 0 || out.Len() != 0 {
		t.Fatalf("empty wav: %+v, %d bytes, %v", enc, out.Len(), err)
	}
	for name, in := range map[string][]byte{
		"not riff":  []byte("ID3\x03 something else entirely"),
		"truncated": makeWAV(8000, 1, time.Second, false)[:20],
		"rate":      makeWAV(7000, 1, time.Second, false),
	} {
		if _, err := Transcode(io.Discard, bytes.NewReader(in), Standard); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// 8-bit PCM is refused.
	bad := makeWAV(8000, 1, time.Second, false)
	binary.LittleEndian.PutUint16(bad[34:], 8)
	if _, err := Transcode(io.Discard, bytes.NewReader(bad), Standard); !errors.Is(err, errNotWAV) {
		t.Errorf("8-bit: %v", err)
	}
	if _, err := ScanMP3(strings.NewReader("\xff\xfb\x90")); err == nil {
		t.Error("a cut header scanned")
	}
}

// Memory does not grow with the recording: a long one streams through a
// writer that only counts.
func TestTranscodeStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("long input")
	}
	const secs = 600
	r := io.MultiReader(bytes.NewReader(makeWAV(8000, 1, 0, false)[:40]),
		bytes.NewReader([]byte{0x00, 0x7c, 0x92, 0x00}), // data length: 9 600 000 bytes
		io.LimitReader(zeros{}, 2*8000*secs))
	enc, err := Transcode(io.Discard, r, Standard)
	if err != nil || enc.Duration != secs*time.Second {
		t.Fatalf("%+v, %v", enc, err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
