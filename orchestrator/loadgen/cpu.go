package loadgen

import (
	"bytes"
	"fmt"
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
	ms := round(float64(d-m.start)/float64(time.Millisecond)/float64(calls), 3)
	if m.idle < 0 {
		return &ms, nil, nil
	}
	a := aboveIdle(d-m.start, m.idle, time.Since(m.at), calls)
	return &ms, &a, nil
}

// aboveIdle is the CPU used over span, less what the process spends idle
// at idleMsPerS over as long, in ms per call. It can come out negative
// when the run left the process's fixed work undone, or within the
// clock tick /proc counts in.
func aboveIdle(used time.Duration, idleMsPerS float64, span time.Duration, calls int) float64 {
	ms := float64(used)/float64(time.Millisecond) - idleMsPerS*span.Seconds()
	return round(ms/float64(calls), 3)
}
