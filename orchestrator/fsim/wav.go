package fsim

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
)

// prepareRecording makes sure a recording can be written at path.
func prepareRecording(path string) error {
	if path == "" {
		return os.ErrInvalid
	}
	return os.MkdirAll(filepath.Dir(path), 0o755)
}

// writeWAV writes a valid 8 kHz mono 16-bit PCM WAV file of ms milliseconds:
// a quiet 440 Hz tone for the first toneMs (the caller talking), silence
// after. It returns the file size.
func writeWAV(path string, ms, toneMs int64) (int64, error) {
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
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		return 0, err
	}
	return int64(len(buf)), nil
}
