package wavfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"
)

// chunk is one RIFF chunk: its id and body (padded to even length when
// written).
type chunk struct {
	id   string
	body []byte
}

func riff(chunks ...chunk) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF\x00\x00\x00\x00WAVE")
	for _, c := range chunks {
		b.WriteString(c.id)
		_ = binary.Write(&b, binary.LittleEndian, uint32(len(c.body)))
		b.Write(c.body)
		if len(c.body)%2 == 1 {
			b.WriteByte(0)
		}
	}
	return b.Bytes()
}

func fmtBody(tag uint16, channels, rate, bits int) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b[0:], tag)
	binary.LittleEndian.PutUint16(b[2:], uint16(channels))
	binary.LittleEndian.PutUint32(b[4:], uint32(rate))
	binary.LittleEndian.PutUint32(b[8:], uint32(rate*channels*bits/8))
	binary.LittleEndian.PutUint16(b[12:], uint16(channels*bits/8))
	binary.LittleEndian.PutUint16(b[14:], uint16(bits))
	return b
}

// dataHead is a data chunk's header alone: the samples follow it.
func dataHead(size uint32) []byte {
	b := []byte("data\x00\x00\x00\x00")
	binary.LittleEndian.PutUint32(b[4:], size)
	return b
}

func TestReadHeader(t *testing.T) {
	ext := make([]byte, 40)
	copy(ext, fmtBody(extensible, 2, 16000, 16))
	binary.LittleEndian.PutUint16(ext[16:], 22)
	binary.LittleEndian.PutUint16(ext[24:], PCM)
	cases := []struct {
		name string
		in   []byte
		want Header
		dur  time.Duration
		ok   bool
	}{
		{"pcm mono", append(riff(chunk{"fmt ", fmtBody(PCM, 1, 8000, 16)}), dataHead(16000)...),
			Header{PCM, 1, 8000, 16000, 16, 16000}, time.Second, true},
		{"chunks before data, one of odd length", append(riff(chunk{"LIST", []byte("INFOabc")}, chunk{"fmt ", fmtBody(PCM, 2, 8000, 16)}, chunk{"fact", []byte{1, 2, 3, 4}}), dataHead(8000)...),
			Header{PCM, 2, 8000, 32000, 16, 8000}, 250 * time.Millisecond, true},
		{"extensible", append(riff(chunk{"fmt ", ext}), dataHead(64000)...),
			Header{PCM, 2, 16000, 64000, 16, 64000}, time.Second, true},
		{"mu-law", append(riff(chunk{"fmt ", fmtBody(7, 1, 8000, 8)}), dataHead(4000)...),
			Header{7, 1, 8000, 8000, 8, 4000}, 500 * time.Millisecond, true},
		{"never finalised", append(riff(chunk{"fmt ", fmtBody(PCM, 1, 8000, 16)}), dataHead(Unfinalised)...),
			Header{PCM, 1, 8000, 16000, 16, Unfinalised}, 0, false},
		{"empty", append(riff(chunk{"fmt ", fmtBody(PCM, 1, 8000, 16)}), dataHead(0)...),
			Header{PCM, 1, 8000, 16000, 16, 0}, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := bytes.NewReader(append(c.in, 0xAB, 0xCD))
			h, err := ReadHeader(r)
			if err != nil {
				t.Fatal(err)
			}
			if h != c.want {
				t.Fatalf("header %+v, want %+v", h, c.want)
			}
			if d, ok := h.Duration(); d != c.dur || ok != c.ok {
				t.Errorf("duration %v, %v; want %v, %v", d, ok, c.dur, c.ok)
			}
			if first, _ := r.ReadByte(); first != 0xAB {
				t.Errorf("left the reader at %#x, not at the first sample", first)
			}
		})
	}
}

func TestReadHeaderRefuses(t *testing.T) {
	good := append(riff(chunk{"fmt ", fmtBody(PCM, 1, 8000, 16)}), dataHead(16000)...)
	cases := []struct {
		name   string
		in     []byte
		notWAV bool
	}{
		{"not riff", []byte("ID3\x03 something else entirely"), true},
		{"riff but not wave", append([]byte("RIFF\x00\x00\x00\x00AVI "), good[12:]...), true},
		{"data before fmt", append(riff(), dataHead(10)...), true},
		{"fmt too short", append(riff(chunk{"fmt ", make([]byte, 14)}), dataHead(10)...), true},
		{"fmt too long", append(riff(chunk{"fmt ", make([]byte, 2000)}), dataHead(10)...), true},
		{"cut in the header", good[:8], false},
		{"cut in the fmt chunk", good[:30], false},
		{"no data chunk", riff(chunk{"fmt ", fmtBody(PCM, 1, 8000, 16)}), false},
		{"cut in a skipped chunk", riff(chunk{"LIST", make([]byte, 100)})[:40], false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadHeader(bytes.NewReader(c.in))
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrNotWAV) != c.notWAV {
				t.Errorf("errors.Is(%v, ErrNotWAV) = %v, want %v", err, !c.notWAV, c.notWAV)
			}
			if !c.notWAV && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				t.Errorf("a cut file: %v, want an EOF", err)
			}
		})
	}
}
