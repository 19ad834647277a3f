package results

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// File names of the server side of a result directory.
const (
	// ServersCSVFile holds Servers.Samples, beside intervals.csv.
	ServersCSVFile = "servers.csv"
	// ServersDir holds the servers' logs and configs, server-N/<file>.
	ServersDir = "servers"
	// GzipOver is the size above which a kept server file is compressed.
	GzipOver = 256 << 10
)

// Problem kinds found in the servers' logs and processes.
const (
	// ProblemError is a line a server logged at ERROR (or FATAL) level.
	ProblemError = "error"
	// ProblemExit is a server process that exited without the harness
	// killing it.
	ProblemExit = "exit"
	// ProblemDiskFull is a server that could not write because a disk was
	// full (ENOSPC).
	ProblemDiskFull = "disk_full"
)

// Servers is what the servers themselves said during a run: a time series
// of each server's own figures (written to servers.csv, described here),
// the logs and configs kept in the result directory, and the problems found
// in them.
type Servers struct {
	// File is the CSV holding Samples, relative to the result directory.
	File string `json:"file,omitempty"`
	// Source says where the figures come from: mntr, the four-letter
	// word every server answers, and a server's Prometheus endpoint where
	// it has one.
	Source string `json:"source,omitempty"`
	// Interval is how often every server was sampled.
	Interval time.Duration `json:"interval_ns,omitempty"`
	// Columns describes File's columns, in order.
	Columns []Column `json:"columns,omitempty"`
	// Samples are the rows of File, in time order. Written to File, not to
	// result.json.
	Samples []ServerSample `json:"-"`
	// Files lists the server files kept in the result directory.
	Files []ServerFile `json:"files,omitempty"`
	// Problems are the errors, unexpected exits and full disks found.
	Problems []ServerProblem `json:"problems,omitempty"`
}

// Column describes one column of servers.csv.
type Column struct {
	Name    string `json:"name"`
	Unit    string `json:"unit,omitempty"`
	Meaning string `json:"meaning"`
}

// ServerSample is one server's figures at one moment. A figure the server
// does not report is NaN (an empty cell in the CSV). Counters and sums are
// cumulative since the process started, as the server reports them: the
// difference between two samples of one process is what happened between
// them.
type ServerSample struct {
	// At is the offset from Result.Start (negative during warm-up).
	At time.Duration
	// ID is the server's id.
	ID int64
	// Role is the role the harness last saw (leader, follower, down, ...).
	Role string
	// Up reports whether the server answered; when false only Role, and
	// CPU and RSS of a running process, are known.
	Up bool
	// PID is the process sampled (0 when external or down); counters
	// restart with a new PID.
	PID int
	// Outstanding is the number of requests queued in the server.
	Outstanding float64
	// AvgLatencyMs and MaxLatencyMs are the server's own request latency
	// (ms) since it started or its stats were reset.
	AvgLatencyMs, MaxLatencyMs float64
	// FsyncCount is the number of log fsyncs so far; FsyncMs their total
	// time in milliseconds (NaN when the server does not time them).
	FsyncCount, FsyncMs float64
	// Znodes, Connections and Sessions as the server counts them.
	Znodes, Connections, Sessions float64
	// CPUSeconds is the process's user+system CPU so far; RSSKiB its
	// resident set.
	CPUSeconds, RSSKiB float64
}

// ServerColumns describes servers.csv, in order.
var ServerColumns = []Column{
	{"t_s", "s", "time of the sample from the start of the measured part (negative in the warm-up)"},
	{"server", "", "server id"},
	{"role", "", "role the harness last saw: leader, follower, observer, standalone, not-serving, unreachable, down"},
	{"up", "", "1 if the server answered mntr"},
	{"pid", "", "process sampled (counters restart with a new pid); 0 when external or down"},
	{"outstanding", "requests", "zk_outstanding_requests"},
	{"avg_latency_ms", "ms", "zk_avg_latency: the server's mean request latency since it started"},
	{"max_latency_ms", "ms", "zk_max_latency: the server's largest request latency since it started"},
	{"fsync_count", "fsyncs", "log fsyncs so far (mntr's zk_cnt_fsynctime or Prometheus's fsynctime_count; else zk_fsync_count)"},
	{"fsync_ms", "ms", "time spent in log fsyncs so far (mntr's zk_sum_fsynctime or Prometheus's fsynctime_sum)"},
	{"znodes", "znodes", "zk_znode_count"},
	{"connections", "connections", "zk_num_alive_connections"},
	{"sessions", "sessions", "zk_global_sessions"},
	{"cpu_s", "s", "the process's user+system CPU so far (/proc)"},
	{"rss_kib", "KiB", "the process's resident set (/proc)"},
}

// ServerFile is one server file kept in the result directory.
type ServerFile struct {
	// ID is the server's id.
	ID int64 `json:"id"`
	// Name is the file's path relative to the result directory
	// (servers/server-N/server.log.gz).
	Name string `json:"name"`
	// Size is the original size in bytes; Gzip whether Name is compressed.
	Size int64 `json:"size"`
	Gzip bool  `json:"gzip,omitempty"`
	// Data is the original content, to be written by Write. Not in
	// result.json.
	Data []byte `json:"-"`
}

// ServerProblem is an error a server logged, an exit nobody asked for, or
// a full disk.
type ServerProblem struct {
	// At is the offset from Result.Start when it was seen (the log line's
	// time if it has one).
	At time.Duration `json:"at_ns"`
	// ID is the server's id.
	ID int64 `json:"id"`
	// Kind is ProblemError, ProblemExit or ProblemDiskFull.
	Kind string `json:"kind"`
	// Disk names the directory that filled, and its file system, for
	// ProblemDiskFull.
	Disk string `json:"disk,omitempty"`
	// Detail is the log line or the exit status.
	Detail string `json:"detail"`
	// Count is how many times it happened (the first is At and Detail).
	Count int `json:"count,omitempty"`
}

// String says what happened in one line.
func (p ServerProblem) String() string {
	var s string
	switch p.Kind {
	case ProblemDiskFull:
		s = fmt.Sprintf("server %d: disk full at %s: %s", p.ID, p.Disk, p.Detail)
	case ProblemExit:
		s = fmt.Sprintf("server %d exited on its own: %s", p.ID, p.Detail)
	default:
		s = fmt.Sprintf("server %d logged an error: %s", p.ID, p.Detail)
	}
	s += fmt.Sprintf(" (at %.1f s", p.At.Seconds())
	if p.Count > 1 {
		s += fmt.Sprintf("; %d times", p.Count)
	}
	return s + ")"
}

func formatFigure(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func parseFigure(s string) (float64, error) {
	if s == "" {
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

// WriteServersCSV writes samples as CSV with the ServerColumns.
func WriteServersCSV(w io.Writer, samples []ServerSample) error {
	cw := csv.NewWriter(w)
	head := make([]string, len(ServerColumns))
	for i, c := range ServerColumns {
		head[i] = c.Name
	}
	if err := cw.Write(head); err != nil {
		return fmt.Errorf("results: %s: %w", ServersCSVFile, err)
	}
	for _, s := range samples {
		up := "0"
		if s.Up {
			up = "1"
		}
		row := []string{strconv.FormatFloat(s.At.Seconds(), 'f', 3, 64), strconv.FormatInt(s.ID, 10), s.Role, up, strconv.Itoa(s.PID)}
		for _, v := range []float64{s.Outstanding, s.AvgLatencyMs, s.MaxLatencyMs, s.FsyncCount, s.FsyncMs, s.Znodes, s.Connections, s.Sessions, s.CPUSeconds, s.RSSKiB} {
			row = append(row, formatFigure(v))
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("results: %s: %w", ServersCSVFile, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("results: %s: %w", ServersCSVFile, err)
	}
	return nil
}

// ReadServersCSV reads what WriteServersCSV wrote.
func ReadServersCSV(rd io.Reader) ([]ServerSample, error) {
	cr := csv.NewReader(rd)
	cr.FieldsPerRecord = len(ServerColumns)
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("results: %s: %w", ServersCSVFile, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("results: %s: no header", ServersCSVFile)
	}
	var out []ServerSample
	for i, row := range rows[1:] {
		bad := func(err error) error {
			return fmt.Errorf("results: %s: row %d: %w", ServersCSVFile, i+2, err)
		}
		t, err := strconv.ParseFloat(row[0], 64)
		if err != nil {
			return nil, bad(err)
		}
		id, err := strconv.ParseInt(row[1], 10, 64)
		if err != nil {
			return nil, bad(err)
		}
		pid, err := strconv.Atoi(row[4])
		if err != nil {
			return nil, bad(err)
		}
		s := ServerSample{At: time.Duration(math.Round(t*1e3)) * time.Millisecond, ID: id, Role: row[2], Up: row[3] == "1", PID: pid}
		for j, p := range []*float64{&s.Outstanding, &s.AvgLatencyMs, &s.MaxLatencyMs, &s.FsyncCount, &s.FsyncMs, &s.Znodes, &s.Connections, &s.Sessions, &s.CPUSeconds, &s.RSSKiB} {
			if *p, err = parseFigure(row[5+j]); err != nil {
				return nil, bad(fmt.Errorf("%s: %w", ServerColumns[5+j].Name, err))
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// writeServers writes r.Servers' CSV and kept files into dir.
func writeServers(dir string, sv *Servers) error {
	if sv == nil {
		return nil
	}
	if sv.File != "" {
		var b bytes.Buffer
		if err := WriteServersCSV(&b, sv.Samples); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, sv.File), b.Bytes()); err != nil {
			return fmt.Errorf("results: write: %w", err)
		}
	}
	for _, f := range sv.Files {
		if f.Data == nil {
			continue // read back from a directory: already there
		}
		data := f.Data
		if f.Gzip {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			if _, err := zw.Write(data); err != nil {
				return fmt.Errorf("results: gzip %s: %w", f.Name, err)
			}
			if err := zw.Close(); err != nil {
				return fmt.Errorf("results: gzip %s: %w", f.Name, err)
			}
			data = b.Bytes()
		}
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(path), resultDirPerm); err != nil {
			return fmt.Errorf("results: write: %w", err)
		}
		if err := writeFile(path, data); err != nil {
			return fmt.Errorf("results: write %s: %w", f.Name, err)
		}
	}
	return nil
}

// readServers fills r.Servers.Samples from its CSV, if any.
func readServers(dir string, sv *Servers) error {
	if sv == nil || sv.File == "" {
		return nil
	}
	f, err := os.Open(filepath.Join(dir, sv.File))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("results: read: %w", err)
	}
	defer f.Close()
	sv.Samples, err = ReadServersCSV(f)
	return err
}

// KeepServerFile returns data as a ServerFile of server id named
// servers/server-<id>/<name>, compressed (".gz") when over GzipOver.
func KeepServerFile(id int64, name string, data []byte) ServerFile {
	f := ServerFile{ID: id, Name: fmt.Sprintf("%s/server-%d/%s", ServersDir, id, name), Size: int64(len(data)), Data: data}
	if len(data) > GzipOver {
		f.Name += ".gz"
		f.Gzip = true
	}
	return f
}
