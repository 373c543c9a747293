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

// cpuMeter measures one process's CPU between start and stop.
type cpuMeter struct {
	pid   int
	start time.Duration
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
	return &cpuMeter{pid: pid, start: d}, nil
}

// perCall is the CPU used since start in ms per call, or nil when not
// measured (no meter, no calls, or the process is gone).
func (m *cpuMeter) perCall(calls int) (*float64, error) {
	if m == nil || calls == 0 {
		return nil, nil
	}
	d, err := ProcessCPU(m.pid)
	if err != nil {
		return nil, err
	}
	ms := round(float64(d-m.start)/float64(time.Millisecond)/float64(calls), 3)
	return &ms, nil
}
