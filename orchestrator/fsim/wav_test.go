package fsim

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// wantSamples is a recording's audio worked out a sample at a time: the
// 440 Hz tone for the arrived samples, silence after, each heard tone
// over them (a later span over an earlier one).
func wantSamples(n, arrived int64, tones []toneSpan) []int16 {
	out := make([]int16, n)
	for i := int64(0); i < n && i < arrived; i++ {
		out[i] = int16(2000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	for _, t := range tones {
		for i := max(t.fromUS/125, 0); i < min(t.toUS/125, n); i++ {
			out[i] = int16(4000 * math.Sin(2*math.Pi*t.freq*float64(i)/8000))
		}
	}
	return out
}

func TestWAVTonesMatchSampleBySample(t *testing.T) {
	cases := []struct {
		name        string
		ms, arrived int64
		tones       []toneSpan
	}{
		{"empty", 0, 0, nil},
		{"all tone", 2500, 2500, nil},
		{"tone then silence", 9000, 1234, nil},
		{"silence only", 7000, 0, nil},
		{"ringback over the start", 6000, 6000, []toneSpan{{fromUS: 0, toUS: 1_500_000, freq: 425}}},
		{"hold music in silence, past the end", 8000, 2000, []toneSpan{{fromUS: 3_000_125, toUS: 9_000_000, freq: 697}}},
		{"overlapping spans, later wins", 5000, 5000, []toneSpan{
			{fromUS: 500_000, toUS: 3_000_000, freq: 480},
			{fromUS: 1_000_000, toUS: 2_000_000, freq: 620},
		}},
		{"a tone of no whole hertz", 3000, 1000, []toneSpan{{fromUS: 1_200_000, toUS: 2_600_000, freq: 437.5}}},
		{"span starting before the recording", 2000, 0, []toneSpan{{fromUS: -40_000, toUS: 900_000, freq: 350}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "r.wav")
			size, err := writeWAVTones(p, c.ms, c.arrived, c.tones)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if want := 44 + c.ms*16; size != want || int64(len(b)) != want {
				t.Fatalf("size %d, file %d bytes, want %d", size, len(b), want)
			}
			if d, ok := wavLength(p); !ok || d.Milliseconds() != c.ms {
				t.Fatalf("wavLength = %v, %v; want %d ms", d, ok, c.ms)
			}
			want := wantSamples(c.ms*8, c.arrived*8, c.tones)
			for i, w := range want {
				got := int16(binary.LittleEndian.Uint16(b[44+2*i:]))
				if d := int(got) - int(w); d < -1 || d > 1 {
					t.Fatalf("sample %d (%.3f s) = %d, want %d", i, float64(i)/8000, got, w)
				}
			}
		})
	}
}

// A recording written over an old, longer file is the new one only.
func TestWAVOverwritesAnOlderFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.wav")
	if _, err := writeWAV(p, 4000, 4000); err != nil {
		t.Fatal(err)
	}
	if _, err := writeWAV(p, 1000, 0); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 44+1000*16 {
		t.Fatalf("%d bytes, want %d", len(b), 44+1000*16)
	}
	for i := 44; i < len(b); i++ {
		if b[i] != 0 {
			t.Fatalf("byte %d = %d, want silence", i, b[i])
		}
	}
}

// BenchmarkSessionRecording4Min is what the node spends, under its lock,
// on the recording of a call held for four minutes as it hangs up.
func BenchmarkSessionRecording4Min(b *testing.B) {
	p := filepath.Join(b.TempDir(), "r.wav")
	b.SetBytes(44 + 240_000*16)
	for b.Loop() {
		if _, err := writeWAVTones(p, 240_000, 236_000, []toneSpan{{fromUS: 0, toUS: 4_000_000, freq: 425}}); err != nil {
			b.Fatal(err)
		}
	}
}
