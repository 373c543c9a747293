package fsim

import (
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
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
func writeWAVTones(path string, ms, toneMs int64, tones []toneSpan) (int64, error) {
	if ms < 0 {
		ms = 0
	}
	samples := ms * 8
	toneSamples := toneMs * 8
	dataLen := samples * 2
	buf := make([]byte, 44+dataLen)
	copy(buf[0:], "RIFF")
	binary.LittleEndian.PutUint32(buf[4:], uint32(36+dataLen))
	copy(buf[8:], "WAVE")
	copy(buf[12:], "fmt ")
	binary.LittleEndian.PutUint32(buf[16:], 16)
	binary.LittleEndian.PutUint16(buf[20:], 1) // PCM
	binary.LittleEndian.PutUint16(buf[22:], 1) // mono
	binary.LittleEndian.PutUint32(buf[24:], 8000)
	binary.LittleEndian.PutUint32(buf[28:], 16000) // byte rate
	binary.LittleEndian.PutUint16(buf[32:], 2)     // block align
	binary.LittleEndian.PutUint16(buf[34:], 16)    // bits per sample
	copy(buf[36:], "data")
	binary.LittleEndian.PutUint32(buf[40:], uint32(dataLen))
	// one period of 440 Hz at 8 kHz is not an integer number of samples;
	// compute each sample, it is cheap enough.
	for i := int64(0); i < samples && i < toneSamples; i++ {
		v := int16(2000 * math.Sin(2*math.Pi*440*float64(i)/8000))
		binary.LittleEndian.PutUint16(buf[44+2*i:], uint16(v))
	}
	for _, t := range tones {
		for i := max(t.fromUS/125, 0); i < min(t.toUS/125, samples); i++ { // 125 µs a sample at 8 kHz
			v := int16(4000 * math.Sin(2*math.Pi*t.freq*float64(i)/8000))
			binary.LittleEndian.PutUint16(buf[44+2*i:], uint16(v))
		}
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		return 0, err
	}
	return int64(len(buf)), nil
}

// wavLength reads the length of a PCM WAV file from its header (data bytes
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
	var head [12]byte
	if _, err := io.ReadFull(f, head[:]); err != nil || string(head[0:4]) != "RIFF" || string(head[8:12]) != "WAVE" {
		return 0, false
	}
	var rate uint32
	for {
		var ck [8]byte
		if _, err := io.ReadFull(f, ck[:]); err != nil {
			return 0, false
		}
		size := binary.LittleEndian.Uint32(ck[4:])
		switch string(ck[0:4]) {
		case "fmt ":
			var fm [16]byte
			if size < 16 {
				return 0, false
			}
			if _, err := io.ReadFull(f, fm[:]); err != nil {
				return 0, false
			}
			rate = binary.LittleEndian.Uint32(fm[8:12])
			if _, err := f.Seek(int64(size-16+size%2), io.SeekCurrent); err != nil {
				return 0, false
			}
		case "data":
			if rate == 0 {
				return 0, false
			}
			return time.Duration(int64(size) * int64(time.Second) / int64(rate)), true
		default:
			if _, err := f.Seek(int64(size+size%2), io.SeekCurrent); err != nil {
				return 0, false
			}
		}
	}
}
