package results

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// File names inside a result directory.
const (
	JSONFile         = "result.json"
	CSVFile          = "intervals.csv"
	LatencyLogFile   = "latency.hlog"
	IntervalsLogFile = "intervals.hlog"
	serviceTagPrefix = "service."
	resultFilePerm   = 0o644
	resultDirPerm    = 0o755
)

// ErrSchema is returned by Read for a document written by a newer zkbench.
var ErrSchema = errors.New("results: unsupported schema version")

// Write saves r into dir (created if missing): result.json, intervals.csv,
// latency.hlog and intervals.hlog, and, when r has them, servers.csv and
// the servers' kept files. Each file is written to a temporary name
// and renamed into place.
func Write(dir string, r *Result) error {
	if err := os.MkdirAll(dir, resultDirPerm); err != nil {
		return fmt.Errorf("results: write: %w", err)
	}
	r.Schema = SchemaVersion
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("results: write %s: %w", JSONFile, err)
	}
	js = append(js, '\n')
	var csvBuf, latBuf, ivBuf bytes.Buffer
	if err := WriteCSV(&csvBuf, r); err != nil {
		return err
	}
	if err := WriteLatencyLog(&latBuf, r); err != nil {
		return err
	}
	if err := WriteIntervalLog(&ivBuf, r); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{JSONFile, js}, {CSVFile, csvBuf.Bytes()}, {LatencyLogFile, latBuf.Bytes()}, {IntervalsLogFile, ivBuf.Bytes()}} {
		if err := writeFile(filepath.Join(dir, f.name), f.data); err != nil {
			return fmt.Errorf("results: write: %w", err)
		}
	}
	return writeServers(dir, r.Servers)
}

func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(resultFilePerm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Read loads a result directory written by Write. The histogram logs are
// optional: without them Latency, Service and IntervalLatency stay nil and
// the summaries in result.json are used as they are.
func Read(dir string) (*Result, error) {
	js, err := os.ReadFile(filepath.Join(dir, JSONFile))
	if err != nil {
		return nil, fmt.Errorf("results: read: %w", err)
	}
	r, err := Decode(js)
	if err != nil {
		return nil, fmt.Errorf("results: read %s: %w", filepath.Join(dir, JSONFile), err)
	}
	if f, err := os.Open(filepath.Join(dir, LatencyLogFile)); err == nil {
		err = ReadLatencyLog(f, r)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("results: read %s: %w", LatencyLogFile, err)
		}
		r.UpdateStats()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("results: read: %w", err)
	}
	if f, err := os.Open(filepath.Join(dir, IntervalsLogFile)); err == nil {
		err = ReadIntervalLog(f, r)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("results: read %s: %w", IntervalsLogFile, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("results: read: %w", err)
	}
	if err := readServers(dir, r.Servers); err != nil {
		return nil, err
	}
	return r, nil
}

// Decode parses a result.json document.
func Decode(js []byte) (*Result, error) {
	var probe struct {
		Schema int `json:"schema"`
	}
	if err := json.Unmarshal(js, &probe); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	if probe.Schema < 1 || probe.Schema > SchemaVersion {
		return nil, fmt.Errorf("%w %d (this build reads 1..%d)", ErrSchema, probe.Schema, SchemaVersion)
	}
	r := &Result{}
	if err := json.Unmarshal(js, r); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	return r, nil
}

func errorKinds(r *Result) []string {
	set := map[string]bool{}
	for _, iv := range r.Series {
		for k := range iv.ErrorsByKind {
			set[k] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func seriesOps(r *Result) []string {
	set := map[string]bool{}
	for name := range r.Ops {
		set[name] = true
	}
	for _, iv := range r.Series {
		for k := range iv.ByOp {
			set[k] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) }

// WriteCSV writes the series as CSV, one row per interval: time and length
// in seconds, successful operations (total, per second, per type), errors
// (total and per kind), latency percentiles in milliseconds and the driver's
// CPU in cores.
func WriteCSV(w io.Writer, r *Result) error {
	cw := csv.NewWriter(w)
	ops, kinds := seriesOps(r), errorKinds(r)
	head := []string{"t_s", "len_s", "ops", "ops_per_s"}
	for _, o := range ops {
		head = append(head, "ops_"+o)
	}
	head = append(head, "errors")
	for _, k := range kinds {
		head = append(head, "errors_"+strings.ReplaceAll(k, ":", "_"))
	}
	head = append(head, "p50_ms", "p99_ms", "p999_ms", "max_ms", "driver_cpu")
	if err := cw.Write(head); err != nil {
		return fmt.Errorf("results: csv: %w", err)
	}
	row := make([]string, 0, len(head))
	for _, iv := range r.Series {
		row = row[:0]
		row = append(row, strconv.FormatFloat(iv.Start.Seconds(), 'f', 3, 64),
			strconv.FormatFloat(iv.Len.Seconds(), 'f', 3, 64),
			strconv.FormatInt(iv.Ops, 10),
			strconv.FormatFloat(iv.Throughput(), 'f', 1, 64))
		for _, o := range ops {
			row = append(row, strconv.FormatInt(iv.ByOp[o], 10))
		}
		row = append(row, strconv.FormatInt(iv.Errors, 10))
		for _, k := range kinds {
			row = append(row, strconv.FormatInt(iv.ErrorsByKind[k], 10))
		}
		row = append(row, ms(iv.P50), ms(iv.P99), ms(iv.P999), ms(iv.Max),
			strconv.FormatFloat(iv.DriverCPU, 'f', 3, 64))
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("results: csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("results: csv: %w", err)
	}
	return nil
}

func startMs(r *Result) int64 { return r.Start.UnixMilli() }

func newLogWriter(w io.Writer, r *Result, comment string) (*hdr.HistogramLogWriter, error) {
	lw := hdr.NewHistogramLogWriter(w)
	if err := lw.OutputLogFormatVersion(); err != nil {
		return nil, err
	}
	if err := lw.OutputComment(comment); err != nil {
		return nil, err
	}
	if err := lw.OutputStartTime(startMs(r)); err != nil {
		return nil, err
	}
	lw.SetBaseTime(startMs(r))
	if err := lw.OutputLegend(); err != nil {
		return nil, err
	}
	return lw, nil
}

// WriteLatencyLog writes the whole-run histograms in HdrHistogram log
// format, one line per operation type tagged with its name (and, in open
// loop, one tagged "service.<name>" for the uncorrected latencies). Values
// are nanoseconds.
func WriteLatencyLog(w io.Writer, r *Result) error {
	lw, err := newLogWriter(w, r, "zkbench whole-run latency per operation type, nanoseconds")
	if err != nil {
		return fmt.Errorf("results: latency log: %w", err)
	}
	out := func(tag string, h *hdr.Histogram) error {
		c := h.Clone()
		c.SetTag(tag)
		c.SetStartTimeMs(startMs(r))
		c.SetEndTimeMs(startMs(r) + r.Measured.Milliseconds())
		return lw.OutputIntervalHistogram(c)
	}
	for _, name := range slices.Sorted(maps.Keys(r.Latency)) {
		if err := out(name, r.Latency[name]); err != nil {
			return fmt.Errorf("results: latency log: %s: %w", name, err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.Service)) {
		if err := out(serviceTagPrefix+name, r.Service[name]); err != nil {
			return fmt.Errorf("results: latency log: %s: %w", name, err)
		}
	}
	return nil
}

// ReadLatencyLog fills r.Latency and r.Service from a log written by
// WriteLatencyLog.
func ReadLatencyLog(rd io.Reader, r *Result) error {
	lr := hdr.NewHistogramLogReader(rd)
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			return err
		}
		if h == nil {
			return nil
		}
		tag := h.Tag()
		if name, ok := strings.CutPrefix(tag, serviceTagPrefix); ok {
			if r.Service == nil {
				r.Service = map[string]*hdr.Histogram{}
			}
			r.Service[name] = h
			continue
		}
		if tag == "" {
			return errors.New("untagged histogram")
		}
		if r.Latency == nil {
			r.Latency = map[string]*hdr.Histogram{}
		}
		r.Latency[tag] = h
	}
}

// WriteIntervalLog writes r.IntervalLatency, in order, each histogram with
// its own start and end time (milliseconds since the epoch, as
// hdrhistogram-go stamps them), relative to r.Start in the log.
func WriteIntervalLog(w io.Writer, r *Result) error {
	lw, err := newLogWriter(w, r, "zkbench latency per interval, all operations, nanoseconds")
	if err != nil {
		return fmt.Errorf("results: interval log: %w", err)
	}
	for i, h := range r.IntervalLatency {
		if h == nil {
			continue
		}
		if err := lw.OutputIntervalHistogram(h); err != nil {
			return fmt.Errorf("results: interval log: histogram %d: %w", i, err)
		}
	}
	return nil
}

// ReadIntervalLog fills r.IntervalLatency from a log written by
// WriteIntervalLog.
func ReadIntervalLog(rd io.Reader, r *Result) error {
	lr := hdr.NewHistogramLogReader(rd)
	r.IntervalLatency = nil
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			return err
		}
		if h == nil {
			return nil
		}
		r.IntervalLatency = append(r.IntervalLatency, h)
	}
}
