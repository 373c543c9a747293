package fsim

import (
	"fmt"
	"testing"
)

// channelEvent is an event of the size a call's channel fires: ~130
// headers, ~5 KB, values with the characters plain events encode.
func channelEvent() *event {
	e := &event{name: "CHANNEL_EXECUTE_COMPLETE", uuid: "a0c7ab8e-7b4c-4bb4-9a1b-3d2f0a9f1c11"}
	e.add("Event-Name", e.name)
	e.add("Event-Date-Local", "2026-12-07 12:00:00")
	e.add("Application-Data", "1 1 3 5000 # 'tone_stream://%(500,0,620)' silence_stream://250 x ^[1]$ 3000")
	for i := range 125 {
		e.add(fmt.Sprintf("variable_channel_setting_%03d", i), fmt.Sprintf("value-%d sip:+1555010%04d@127.0.0.1:5080;transport=udp", i, i))
	}
	return e
}

// BenchmarkEventFrame is what the emulator spends rendering an event in
// each format a connection can take (each rendered once an event, however
// many connections take it): go test -bench EventFrame ./orchestrator/fsim
func BenchmarkEventFrame(b *testing.B) {
	for _, f := range []struct {
		name   string
		render func(*event) []byte
	}{{"plain", (*event).framePlain}, {"json", (*event).frameJSON}} {
		b.Run(f.name, func(b *testing.B) {
			tmpl := channelEvent()
			b.SetBytes(int64(len(f.render(channelEvent()))))
			b.ReportAllocs()
			for b.Loop() {
				e := &event{name: tmpl.name, uuid: tmpl.uuid, hdrs: tmpl.hdrs}
				if len(f.render(e)) == 0 {
					b.Fatal("empty frame")
				}
			}
		})
	}
}
