package scenario

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/orchestrator/esl"
	"github.com/switchyard/switchyard/orchestrator/store"
	"github.com/switchyard/switchyard/orchestrator/testphone"
)

// What the caller and the agent hear around a connect: the agent's
// whisper before the bridge, and the caller's hold music while the
// agents ring. Both happen on channels the test phone does not control,
// so the scenarios watch the node's own events (a whisper) or the call's
// recording (hold music).

// nodeWatch keeps every event of the node's channels, in Event-Sequence
// order as the node wrote them.
type nodeWatch struct {
	mu     sync.Mutex
	events []esl.Event
}

func (h *harness) watchNode() *nodeWatch {
	h.t.Helper()
	w := &nodeWatch{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := esl.DialOrdered(ctx, h.fsAddr, h.fsPassword, func(ev esl.Event) {
		w.mu.Lock()
		w.events = append(w.events, ev)
		w.mu.Unlock()
	}, nil)
	if err != nil {
		h.t.Fatalf("watch: %v", err)
	}
	h.t.Cleanup(conn.Close)
	if err := conn.Subscribe(ctx, "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE"); err != nil {
		h.t.Fatalf("watch: %v", err)
	}
	return w
}

// of returns the events of one channel seen so far, after a round trip
// on the node that makes sure the events written before it are in.
func (w *nodeWatch) of(uuid string) []esl.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []esl.Event
	for _, ev := range w.events {
		if ev.UniqueID() == uuid || ev.Get("Bridge-B-Unique-ID") == uuid {
			out = append(out, ev)
		}
	}
	return out
}

func seq(ev esl.Event) int64 { return ev.Int("Event-Sequence") }

// TestWhisperToAgent: the agent who answers hears the connect's whisper
// on their own leg, and only then is bridged to the caller.
func TestWhisperToAgent(t *testing.T) {
	h := newHarness(t)
	w := h.watchNode()
	ctx := context.Background()
	const number = "+15550000851"
	// The conversation limit runs from the agent's answer: the whisper is
	// part of it.
	h.flowOn(ctx, number, connectFlow(`{"destinations":["+15550100001"],"max_conversation":6,
		"whisper":{"text":"Web call, order 42"}}`))

	res, c, legs := h.call(testphone.Script{To: number, From: "+15550109051"})
	al := agentLegs(legs)
	if c.Status != store.Completed || len(al) != 1 || al[0].Status != store.Completed || pathHas(res, "took ") {
		t.Fatalf("call %s, agent legs %v, path %v", c.Status, legStates(al), res.Path)
	}
	if !withinSec(al[0].TalkTime, 6, 1) {
		t.Errorf("agent talked %d s, want about 6", al[0].TalkTime)
	}
	if br := bridgeApps(res); len(br) != 1 || !strings.Contains(br[0], "group_confirm_key=exec") {
		t.Errorf("bridges %q", br)
	}
	// The whisper ran on the agent's leg, after its answer and before the
	// bridge.
	var answered, whispered, done, bridged int64
	deadline := time.Now().Add(5 * time.Second)
	for bridged == 0 || done == 0 {
		for _, ev := range w.of(al[0].UUID) {
			switch ev.Name() {
			case "CHANNEL_ANSWER":
				answered = seq(ev)
			case "CHANNEL_EXECUTE":
				if ev.Get("Application") == "playback" && strings.Contains(ev.Get("Application-Data"), "say:Web call  order 42") {
					whispered = seq(ev)
				}
			case "CHANNEL_EXECUTE_COMPLETE":
				if ev.Get("Application") == "playback" && whispered != 0 {
					done = seq(ev)
				}
			case "CHANNEL_BRIDGE":
				bridged = seq(ev)
			}
		}
		if time.Now().After(deadline) {
			break
		}
		if bridged == 0 || done == 0 {
			time.Sleep(50 * time.Millisecond) // events still on their way from the node
		}
	}
	if answered == 0 || whispered == 0 || done == 0 || bridged == 0 || !(answered < whispered && whispered < done && done < bridged) {
		t.Errorf("agent leg: answer at %d, whisper %d..%d, bridge at %d; want answer < whisper < bridge", answered, whispered, done, bridged)
	}
}

// TestHoldMusicWhileRinging: the caller hears the connect's music on hold
// while the agent rings (not the ringback tone): the call's recording,
// which starts before the agent is rung, has the music's 697 Hz before the
// agent answers, and a connect without music has none.
func TestHoldMusicWhileRinging(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.flowOn(ctx, "+15550000861", connectFlow(`{"destinations":["+15550100001"],"max_conversation":2,"record":true,
		"music_on_hold":"tone_stream://%(1000,0,697);loops=-1"}`))
	h.flowOn(ctx, "+15550000862", connectFlow(`{"destinations":["+15550100001"],"max_conversation":2,"record":true}`))

	for _, tc := range []struct {
		number string
		music  bool
	}{{"+15550000861", true}, {"+15550000862", false}} {
		_, c, legs := h.call(testphone.Script{To: tc.number, From: "+15550109061"})
		if al := agentLegs(legs); c.Status != store.Completed || len(al) != 1 || al[0].Status != store.Completed {
			t.Fatalf("%s: call %s, agent legs %v", tc.number, c.Status, legStates(al))
		}
		recs, err := h.db.Recordings().ByCall(ctx, account, c.SID)
		if err != nil || len(recs) != 1 {
			t.Fatalf("%s: recordings %+v, %v", tc.number, recs, err)
		}
		samples := readWAV(t, recs[0].Path)
		// The agent rings for a second: the first 600 ms are the ringing.
		ring := samples[:min(len(samples), 4800)]
		level := tone(ring, 697)
		t.Logf("%s: %d samples, 697 Hz level over the ringing %.0f", tc.number, len(samples), level)
		if tc.music != (level > 100) {
			t.Errorf("%s: 697 Hz level %.0f while ringing; music on hold %v", tc.number, level, tc.music)
		}
	}
}

// readWAV reads a 16-bit PCM WAV's first channel at 8 kHz.
func readWAV(t *testing.T, path string) []float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 44 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("%s: not a WAV file", path)
	}
	channels := int(binary.LittleEndian.Uint16(b[22:]))
	rate := int(binary.LittleEndian.Uint32(b[24:]))
	bits := int(binary.LittleEndian.Uint16(b[34:]))
	// Find the data chunk.
	off := 12
	for off+8 <= len(b) && string(b[off:off+4]) != "data" {
		off += 8 + int(binary.LittleEndian.Uint32(b[off+4:]))
	}
	if off+8 > len(b) || bits != 16 || channels < 1 {
		t.Fatalf("%s: %d channels, %d bits, data at %d", path, channels, bits, off)
	}
	data := b[off+8:]
	step := 2 * channels
	var out []float64
	for i := 0; i+1 < len(data); i += step {
		out = append(out, float64(int16(binary.LittleEndian.Uint16(data[i:]))))
	}
	if rate != 8000 { // keep every n-th sample: enough to find a tone below 1 kHz
		n := rate / 8000
		var down []float64
		for i := 0; i < len(out); i += max(n, 1) {
			down = append(down, out[i])
		}
		out = down
	}
	return out
}

// tone is the amplitude of freq in samples (8 kHz), by Goertzel.
func tone(samples []float64, freq float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	k := 2 * math.Cos(2*math.Pi*freq/8000)
	var s1, s2 float64
	for _, x := range samples {
		s1, s2 = x+k*s1-s2, s1
	}
	power := s1*s1 + s2*s2 - k*s1*s2
	return 2 * math.Sqrt(math.Max(power, 0)) / float64(len(samples))
}

// TestMenuSpeaksInItsVoice: a menu whose prompt names a voice speaks in it
// (its say: prompt runs with the channel's tts_voice set to that voice;
// FreeSWITCH 1.10.12 has no prompt source that names its own) and takes the
// caller's key as ever; the next menu, naming none, speaks in the
// default voice again.
func TestMenuSpeaksInItsVoice(t *testing.T) {
	h := newHarness(t)
	w := h.watchNode()
	ctx := context.Background()
	const number = "+15550000871"
	h.flowOn(ctx, number, `{"start":"m1","applets":{
		"m1":{"type":"ivr","config":{"prompt":{"text":"Press 1.","voice":"kal"},"timeout":5,"max_attempts":1},
			"outputs":{"1":"m2","timeout":"bye"}},
		"m2":{"type":"ivr","config":{"prompt":{"text":"Press 2."},"timeout":5,"max_attempts":1},
			"outputs":{"2":"ok","timeout":"bye"}},
		"ok":{"type":"greeting","config":{"prompt":{"text":"took 2"}},"outputs":{"next":"bye"}},
		"bye":{"type":"hangup"}}}`)

	res, c, _ := h.call(testphone.Script{To: number, Digits: []string{"1", "2"}})
	if c.Status != store.Completed || !pathHas(res, "took 2") {
		t.Fatalf("call %s, path %v", c.Status, res.Path)
	}
	var voices []string
	for _, ev := range w.of(res.ChannelUUID) {
		if ev.Name() == "CHANNEL_EXECUTE" && ev.Get("Application") == "play_and_get_digits" {
			voices = append(voices, ev.Var("tts_voice"))
		}
	}
	if strings.Join(voices, ",") != "kal,slt" {
		t.Errorf("the menus ran with tts_voice %q, want kal then slt", voices)
	}
}

// A menu after a greeting starts the moment the greeting ends, as in a
// dialplan: Switchyard sends it behind the greeting rather than on the
// greeting's completion, so no round trip to Switchyard leaves the
// caller in silence between them (20-40 ms on the real node before).
// Timed on a real node, whose event clock moves every 20 ms: the menu's
// start is stamped in the tick the greeting ends in, or (rarely, when
// the tick turns between the two events) the next. The emulator's clock
// runs fast and its steps are posted, so its timing proves nothing
// here; the call machine's trace (TestMachineSendsAheadOfAPromptsEnd)
// and fsim's TestMediaTick hold the rest.
func TestMenuFollowsItsGreetingAtOnce(t *testing.T) {
	if !suite.real {
		t.Skip("timed on a real node")
	}
	h := newHarness(t)
	w := h.watchNode()
	ctx := context.Background()
	const number = "+15550000872"
	h.flowOn(ctx, number, `{"start":"hi","applets":{
		"hi":{"type":"greeting","config":{"prompt":{"audio":"tone_stream://%(300,0,440)"}},"outputs":{"next":"m"}},
		"m":{"type":"ivr","config":{"prompt":{"audio":"tone_stream://%(200,0,620)"},"timeout":5,"max_attempts":1},
			"outputs":{"1":"ok","timeout":"bye"}},
		"ok":{"type":"greeting","config":{"prompt":{"text":"took 1"}},"outputs":{"next":"bye"}},
		"bye":{"type":"hangup"}}}`)

	res, c, _ := h.call(testphone.Script{To: number, Digits: []string{"1"}})
	if c.Status != store.Completed || !pathHas(res, "took 1") {
		t.Fatalf("call %s, path %v", c.Status, res.Path)
	}
	var greetingEnd, menuStart int64
	for _, ev := range w.of(res.ChannelUUID) {
		switch {
		case ev.Name() == "CHANNEL_EXECUTE_COMPLETE" && ev.Get("Application") == "playback" && greetingEnd == 0:
			greetingEnd = ev.Int("Event-Date-Timestamp")
		case ev.Name() == "CHANNEL_EXECUTE" && ev.Get("Application") == "play_and_get_digits":
			menuStart = ev.Int("Event-Date-Timestamp")
		}
	}
	const tick = 20 * time.Millisecond
	gap := time.Duration(menuStart-greetingEnd) * time.Microsecond
	if greetingEnd == 0 || menuStart == 0 || gap < 0 || gap > tick+time.Millisecond {
		t.Errorf("the greeting ended at %d, the menu started at %d (%v later): want within a tick of the node's clock", greetingEnd, menuStart, gap)
	}
}
