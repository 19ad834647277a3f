package bench

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkbench/zkbench/internal/version"
	"github.com/zkbench/zkbench/results"
)

// cpuTime returns this process's user+system CPU time (getrusage).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineTicks returns the busy and total CPU ticks of the whole machine
// from /proc/stat; ok is false where that is unavailable.
func machineTicks() (busy, total uint64, ok bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0, false
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0, false
	}
	var idle uint64
	for i, s := range fields[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		if i >= 8 { // guest and guest_nice are already in user and nice
			break
		}
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return total - idle, total, true
}

// machineInfo describes this host.
func machineInfo() results.Machine {
	m := results.Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, Cores: runtime.NumCPU()}
	m.Hostname, _ = os.Hostname()
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m.Kernel = utsString(u.Release[:])
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range bytes.Lines(b) {
			if rest, ok := bytes.CutPrefix(line, []byte("MemTotal:")); ok {
				f := strings.Fields(string(rest))
				if len(f) >= 1 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					m.Memory = kb * 1024
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range bytes.Lines(b) {
			if rest, ok := bytes.CutPrefix(line, []byte("model name")); ok {
				if _, v, ok := strings.Cut(string(rest), ":"); ok {
					m.CPUModel = strings.TrimSpace(v)
					break
				}
			}
		}
	}
	return m
}

func utsString[T int8 | uint8](b []T) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

// buildInfo identifies this binary (internal/version); revision is used
// when the binary knows none.
func buildInfo(revision string) results.Build {
	v := version.Get()
	b := results.Build{GoVersion: v.GoVersion, Version: v.String(), Revision: v.Revision, RevisionSource: v.Source, Modified: v.Modified}
	if v.Module != "" {
		b.Module = v.Module + "@" + v.Version
	}
	if b.Revision == "" && revision != "" {
		b.Revision, b.RevisionSource = revision, "given"
	}
	return b
}

// clientVersion names the ZooKeeper client library.
func clientVersion() string {
	v := "github.com/go-zookeeper/zk"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == v {
				return v + "@" + d.Version
			}
		}
	}
	return v
}

// schedLatencyMetric is the Go runtime's histogram of how long goroutines
// waited, runnable, for a CPU: when the driver is starved of CPU it grows,
// whatever the servers do.
const schedLatencyMetric = "/sched/latencies:seconds"

// schedSnapshot reads the scheduling-latency histogram (nil if the runtime
// does not offer it).
func schedSnapshot() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: schedLatencyMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s[0].Value.Float64Histogram()
}

// schedQuantile returns the q-quantile (0..1) of the scheduling latencies
// recorded between snapshots a and b, as the upper bound of its bucket.
func schedQuantile(a, b *metrics.Float64Histogram, q float64) time.Duration {
	if a == nil || b == nil || len(a.Counts) != len(b.Counts) {
		return 0
	}
	var total uint64
	for i := range b.Counts {
		total += b.Counts[i] - a.Counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total))
	var seen uint64
	for i := range b.Counts {
		seen += b.Counts[i] - a.Counts[i]
		if seen > rank {
			up := b.Buckets[i+1]
			if math.IsInf(up, 1) {
				up = b.Buckets[i]
			}
			return time.Duration(up * float64(time.Second))
		}
	}
	return 0
}
