package recarchive

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"
)

// MP3Info is what ScanMP3 found.
type MP3Info struct {
	Frames         int
	Rate, Channels int
	Bitrate        int // kbit/s of the first frame
	Duration       time.Duration
}

var mp3Rates = map[int][3]int{ // version bits → sample rates by index
	3: {44100, 48000, 32000}, // MPEG-1
	2: {22050, 24000, 16000}, // MPEG-2
	0: {11025, 12000, 8000},  // MPEG-2.5
}

// ScanMP3 walks an MPEG Layer III stream frame by frame, from its first
// byte to its last: every frame must start with a valid header where the
// previous one ended (no ID3 tags, no garbage). It checks the structure
// of what Transcode writes, not the audio.
func ScanMP3(r io.Reader) (MP3Info, error) {
	br := bufio.NewReader(r)
	var info MP3Info
	var samples int64
	for {
		var h [4]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			if errors.Is(err, io.EOF) && info.Frames > 0 {
				break
			}
			return info, fmt.Errorf("mp3 frame %d header: %w", info.Frames, err)
		}
		if h[0] != 0xFF || h[1]&0xE0 != 0xE0 {
			return info, fmt.Errorf("mp3 frame %d: no frame sync (% x)", info.Frames, h)
		}
		version := int(h[1]>>3) & 3
		layer := int(h[1]>>1) & 3
		brIdx := int(h[2] >> 4)
		srIdx := int(h[2]>>2) & 3
		pad := int(h[2]>>1) & 1
		mode := int(h[3] >> 6)
		rates, ok := mp3Rates[version]
		if !ok || layer != 1 || brIdx == 0 || brIdx == 15 || srIdx == 3 {
			return info, fmt.Errorf("mp3 frame %d: bad header % x", info.Frames, h)
		}
		rate := rates[srIdx]
		var kbps, length, perFrame int
		if version == 3 {
			kbps = bitratesV1[brIdx-1]
			length, perFrame = 144000*kbps/rate+pad, 1152
		} else {
			kbps = bitratesV2[brIdx-1]
			length, perFrame = 72000*kbps/rate+pad, 576
		}
		channels := 2
		if mode == 3 {
			channels = 1
		}
		if info.Frames == 0 {
			info.Rate, info.Channels, info.Bitrate = rate, channels, kbps
		} else if rate != info.Rate || channels != info.Channels {
			return info, fmt.Errorf("mp3 frame %d: format changed mid-stream", info.Frames)
		}
		if _, err := io.CopyN(io.Discard, br, int64(length-4)); err != nil {
			return info, fmt.Errorf("mp3 frame %d is cut short: %w", info.Frames, err)
		}
		info.Frames++
		samples += int64(perFrame)
	}
	info.Duration = time.Duration(samples) * time.Second / time.Duration(info.Rate)
	return info, nil
}
