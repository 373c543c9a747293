package loadgen

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// ProcessCPU returns the CPU time (user + system) process pid has used so
// far, from /proc/<pid>/stat (Linux only).
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("loadgen: cpu of pid %d: %w", pid, err)
	}
	d, err := parseStat(b)
	if err != nil {
		return 0, fmt.Errorf("loadgen: cpu of pid %d: %w", pid, err)
	}
	return d, nil
}

// parseStat reads utime and stime (fields 14 and 15) of a stat line. The
// command name (field 2) is in parentheses and may hold spaces and
// parentheses itself, so fields are counted after the last ')'.
func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat line")
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state), so field n is fields[n-3].
	if len(fields) < 13 {
		return 0, fmt.Errorf("malformed stat line: %d fields after the name", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed stat line: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// cpuMeter measures one process's CPU between start and stop, and, when
// it watched the process idle first, its CPU above that idle rate.
type cpuMeter struct {
	pid   int
	start time.Duration
	// at is when start was read; idle is the process's CPU a second
	// while it was watched idle (negative: not watched).
	at   time.Time
	idle float64
}

// startCPU reads pid's CPU now; pid 0 measures nothing (nil meter).
func startCPU(pid int) (*cpuMeter, error) {
	if pid == 0 {
		return nil, nil
	}
	d, err := ProcessCPU(pid)
	if err != nil {
		return nil, err
	}
	return &cpuMeter{pid: pid, start: d, at: time.Now(), idle: -1}, nil
}

// noteIdle records the process's CPU a second over the time since start,
// and starts the run's measure afresh. Call it once the process has been
// left idle since start.
func (m *cpuMeter) noteIdle() error {
	if m == nil {
		return nil
	}
	d, err := ProcessCPU(m.pid)
	if err != nil {
		return err
	}
	now := time.Now()
	if span := now.Sub(m.at); span > 0 {
		m.idle = float64(d-m.start) / float64(time.Millisecond) / span.Seconds()
	}
	m.start, m.at = d, now
	return nil
}

// idleMsPerS is the CPU a second measured idle, or nil.
func (m *cpuMeter) idleMsPerS() *float64 {
	if m == nil || m.idle < 0 {
		return nil
	}
	ms := round(m.idle, 3)
	return &ms
}

// perCall is the CPU used since start in ms per call and, when the
// process was watched idle, the part above its idle rate over the same
// time; nil when not measured (no meter, no calls, or the process is
// gone).
func (m *cpuMeter) perCall(calls int) (total, above *float64, err error) {
	if m == nil || calls == 0 {
		return nil, nil, nil
	}
	d, err := ProcessCPU(m.pid)
	if err != nil {
		return nil, nil, err
	}
	start := m.start
	total, above = m.used(&start, &d, time.Since(m.at)).perCall(calls)
	return total, above, nil
}

// usage is CPU a process used over some time, in ms: in all, and above
// its idle rate over as long (all of it when it was not watched idle).
type usage struct {
	raw, above float64
	// measured: read at both ends; watched: its idle rate was known.
	measured, watched bool
}

func (u *usage) add(v usage) {
	if v.measured {
		u.raw, u.above, u.measured, u.watched = u.raw+v.raw, u.above+v.above, true, v.watched
	}
}

// blockMs is a block's figure: above idle when the process was watched
// idle (above is raw otherwise).
func (u usage) blockMs() *float64 {
	if !u.measured {
		return nil
	}
	return ptr(round(u.above, 1))
}

// perCall is the usage a call, in all and (when watched idle) above
// idle. Above idle can come out negative when the run left the process's
// fixed work undone, or within the clock tick /proc counts in.
func (u usage) perCall(calls int) (total, above *float64) {
	if !u.measured || calls == 0 {
		return nil, nil
	}
	total = ptr(round(u.raw/float64(calls), 3))
	if u.watched {
		above = ptr(round(u.above/float64(calls), 3))
	}
	return total, above
}

// reading is the processes' CPU at a moment; nil when not measured.
type reading struct {
	at          time.Time
	serve, node *time.Duration
}

func (m *meter) read() reading {
	return reading{at: time.Now(), serve: m.serve.now(m.log), node: m.node.now(m.log)}
}

// now is the process's CPU so far; nil for no meter, or a process gone.
func (m *cpuMeter) now(log *slog.Logger) *time.Duration {
	if m == nil {
		return nil
	}
	d, err := ProcessCPU(m.pid)
	if err != nil {
		log.Warn("loadgen: CPU not read", "err", err)
		return nil
	}
	return &d
}

// used is the CPU between two readings span apart, and the part above
// the process's idle rate (all of it when not watched idle).
func (m *cpuMeter) used(before, after *time.Duration, span time.Duration) usage {
	if m == nil || before == nil || after == nil {
		return usage{}
	}
	raw := float64(*after-*before) / float64(time.Millisecond)
	u := usage{raw: raw, above: raw, measured: true, watched: m.watchedIdle()}
	if u.watched {
		u.above = raw - m.idle*span.Seconds()
	}
	return u
}

// watchedIdle: the process's idle rate is known.
func (m *cpuMeter) watchedIdle() bool { return m != nil && m.idle >= 0 }
