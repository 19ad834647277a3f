package experiment

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/results"
)

// maxKept bounds how much of one server file a result keeps (its end).
const maxKept = 64 << 20

// serverFiles are the files of a server's directory a result keeps.
var serverFiles = []string{"server.log", "stdout.log", "zoo.cfg"}

// ServerRecord collects what the servers said from from on (the start of
// the warm-up) until now: the samples the harness took (times relative to
// start, the measured part's start), each launched server's log and
// config, and the problems found in them and in the processes' ends. The
// ensemble must still be open: Close removes the files.
func ServerRecord(ens *harness.Ensemble, from, start time.Time) *results.Servers {
	sv := &results.Servers{
		File:     results.ServersCSVFile,
		Source:   source(ens),
		Interval: ens.MntrInterval(),
		Columns:  results.ServerColumns,
	}
	for _, s := range ens.MntrSnapshots() {
		if s.Time.Before(from) {
			continue
		}
		sv.Samples = append(sv.Samples, sampleOf(s, start))
	}
	for _, x := range ens.Exits() {
		if x.Time.Before(from) || x.Killed {
			continue
		}
		sv.Problems = append(sv.Problems, results.ServerProblem{At: x.Time.Sub(start), ID: int64(x.ID), Kind: results.ProblemExit, Detail: fmt.Sprintf("pid %d: %s", x.PID, x.Status)})
	}
	for _, m := range ens.Members() {
		if m.Dir == "" {
			continue
		}
		cfg := readKept(filepath.Join(m.Dir, "zoo.cfg"))
		dirs := dataDirs(cfg)
		for _, name := range serverFiles {
			data := readKept(filepath.Join(m.Dir, name))
			if data == nil {
				continue
			}
			sv.Files = append(sv.Files, results.KeepServerFile(int64(m.ID), name, data))
			if name != "zoo.cfg" {
				sv.Problems = append(sv.Problems, ScanLog(data, int64(m.ID), from, start, dirs)...)
			}
		}
	}
	sv.Problems = mergeProblems(sv.Problems)
	return sv
}

// source says where ens's samples come from.
func source(ens *harness.Ensemble) string {
	if ens.Impl() == harness.ImplGo {
		return "mntr and each server's Prometheus endpoint"
	}
	return "mntr"
}

// sampleOf turns one harness sample into a results row.
func sampleOf(s harness.MntrSnapshot, start time.Time) results.ServerSample {
	nan := math.NaN()
	out := results.ServerSample{
		At: s.Time.Sub(start), ID: int64(s.ID), Role: string(s.Role), Up: s.Values != nil, PID: s.PID,
		Outstanding: nan, AvgLatencyMs: nan, MaxLatencyMs: nan, FsyncCount: nan, FsyncMs: nan,
		Znodes: nan, Connections: nan, Sessions: nan, CPUSeconds: nan, RSSKiB: nan,
	}
	if out.Role == "" && s.Values != nil {
		out.Role = s.Values["zk_server_state"]
	}
	if s.PID > 0 && s.RSSKiB > 0 { // no RSS: /proc had no such process (it had just died)
		out.CPUSeconds, out.RSSKiB = s.CPUSeconds, float64(s.RSSKiB)
	}
	v := func(keys ...string) float64 {
		for _, k := range keys {
			if f, err := strconv.ParseFloat(s.Values[k], 64); err == nil {
				return f
			}
		}
		return nan
	}
	out.Outstanding = v("zk_outstanding_requests")
	out.AvgLatencyMs = v("zk_avg_latency")
	out.MaxLatencyMs = v("zk_max_latency")
	out.FsyncCount = v("zk_cnt_fsynctime", "zk_fsync_count")
	out.FsyncMs = v("zk_sum_fsynctime")
	out.Znodes = v("zk_znode_count")
	out.Connections = v("zk_num_alive_connections")
	out.Sessions = v("zk_global_sessions")
	return out
}

// readKept reads a server file, keeping at most its last maxKept bytes;
// nil if it does not exist.
func readKept(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	var head []byte
	if st.Size() > maxKept {
		head = fmt.Appendf(nil, "==== zkbench: the first %d bytes of this file are not kept\n", st.Size()-maxKept)
		if _, err := f.Seek(st.Size()-maxKept, 0); err != nil {
			return nil
		}
	}
	var b bytes.Buffer
	b.Write(head)
	if _, err := b.ReadFrom(f); err != nil {
		return nil
	}
	return b.Bytes()
}

// dataDirs returns a zoo.cfg's dataLogDir and dataDir, in that order, those
// it sets.
func dataDirs(cfg []byte) []string {
	var logDir, dataDir string
	for line := range strings.SplitSeq(string(cfg), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "dataLogDir":
			logDir = strings.TrimSpace(v)
		case "dataDir":
			dataDir = strings.TrimSpace(v)
		}
	}
	var out []string
	for _, d := range []string{logDir, dataDir} {
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}

var (
	// Go's slog text lines and Java's log4j/logback pattern
	// ("2026-12-07 00:00:14,926 [myid:1] ERROR [thread] - message").
	goLine   = regexp.MustCompile(`^time=(\S+) level=(ERROR|WARN|INFO|DEBUG)\b`)
	javaLine = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \[myid:[^\]]*\] (ERROR|FATAL|WARN|INFO|DEBUG)\s`)
)

// ScanLog finds the problems in one server's log: lines logged at ERROR
// (or FATAL), and "no space left on device", naming the disk (the first of
// dirs the line names, else the first of dirs: dataLogDir before dataDir).
// Lines stamped before from are left out; times are made relative to
// start (a line without a time of its own takes the previous line's).
func ScanLog(data []byte, id int64, from, start time.Time, dirs []string) []results.ServerProblem {
	var out []results.ServerProblem
	var last time.Time
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		level := ""
		if m := goLine.FindStringSubmatch(line); m != nil {
			if t, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
				last = t
			}
			level = m[2]
		} else if m := javaLine.FindStringSubmatch(line); m != nil {
			if t, err := time.ParseInLocation("2006-01-02 15:04:05,000", m[1], time.Local); err == nil {
				last = t
			}
			level = m[2]
		}
		if !last.IsZero() && last.Before(from) {
			continue
		}
		at := last.Sub(start)
		if last.IsZero() {
			at = 0
		}
		detail := strings.TrimSpace(line)
		if len(detail) > 300 {
			detail = detail[:300] + "..."
		}
		if strings.Contains(strings.ToLower(line), "no space left on device") {
			out = append(out, results.ServerProblem{At: at, ID: id, Kind: results.ProblemDiskFull, Disk: diskOf(line, dirs), Detail: detail, Count: 1})
			continue
		}
		if level == "ERROR" || level == "FATAL" {
			out = append(out, results.ServerProblem{At: at, ID: id, Kind: results.ProblemError, Detail: detail, Count: 1})
		}
	}
	return out
}

// diskOf names the directory a disk-full line is about, with its file
// system's type and size.
func diskOf(line string, dirs []string) string {
	if len(dirs) == 0 {
		return "unknown directory"
	}
	dir := dirs[0]
	for _, d := range dirs {
		if strings.Contains(line, d) {
			dir = d
			break
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return dir
	}
	fs := "file system"
	switch st.Type {
	case 0x01021994:
		fs = "tmpfs"
	case 0xEF53:
		fs = "ext4"
	case 0x58465342:
		fs = "xfs"
	case 0x794c7630:
		fs = "overlayfs"
	case 0x9123683E:
		fs = "btrfs"
	}
	size := float64(st.Blocks) * float64(st.Bsize)
	free := float64(st.Bavail) * float64(st.Bsize)
	return fmt.Sprintf("%s (%s of %.1f MiB, %.1f MiB free now)", dir, fs, size/(1<<20), free/(1<<20))
}

// mergeProblems keeps, per server and kind, the first problem with the
// count of all of them (exits are kept one by one), in time order.
func mergeProblems(ps []results.ServerProblem) []results.ServerProblem {
	type key struct {
		id   int64
		kind string
	}
	first := map[key]int{}
	var out []results.ServerProblem
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].At < ps[j].At })
	for _, p := range ps {
		if p.Kind == results.ProblemExit {
			out = append(out, p)
			continue
		}
		k := key{p.ID, p.Kind}
		if i, ok := first[k]; ok {
			out[i].Count += max(p.Count, 1)
			continue
		}
		first[k] = len(out)
		p.Count = max(p.Count, 1)
		out = append(out, p)
	}
	return out
}
