package results

import (
	"bytes"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zkbench/zkbench/workloads"
)

// sample builds a result by hand: 4 intervals of 100 ms with 100, 200, 300
// and 400 getData ops, latencies 1 ms .. 4 ms, and one connection loss.
func sample(t *testing.T) *Result {
	t.Helper()
	spec, _ := workloads.Preset("smoke")
	r := &Result{
		Spec:     spec,
		Ensemble: Ensemble{Implementation: "java", Version: "3.8.0", Size: 3, Members: []Member{{ID: 1, Addr: "127.0.0.1:2181", Role: "follower", Clients: 2}}},
		Driver:   Driver{Placement: "roundrobin", Reconnect: "tight", CPUPer10kOps: 0.5, MachineBusy: -1},
		Machine:  Machine{OS: "linux", Arch: "amd64", Cores: 2},
		Build:    Build{GoVersion: "go1.26"},
		Start:    time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC),
		Measured: 400 * time.Millisecond,
		Stop:     StopDeadline,
		Interval: 100 * time.Millisecond,
		Ops:      map[string]*OpStats{"getData": {Count: 1000, Errors: map[string]int64{KindConnectionLoss: 1}}},
		Latency:  map[string]*hdr.Histogram{"getData": NewHistogram(TotalDigits)},
		Events:   []Event{{At: 150 * time.Millisecond, Name: "kill", Detail: "server 1"}},
	}
	for i := 0; i < 4; i++ {
		n := int64(100 * (i + 1))
		h := NewHistogram(IntervalDigits)
		lat := int64(i+1) * int64(time.Millisecond)
		h.RecordValues(lat, n)
		r.Latency["getData"].RecordValues(lat, n)
		iv := Interval{Start: time.Duration(i) * r.Interval, Len: r.Interval, Ops: n, ByOp: map[string]int64{"getData": n}}
		l := LatencyOf(h)
		iv.P50, iv.P99, iv.P999, iv.Max = l.P50, l.P99, l.P999, l.Max
		if i == 2 {
			iv.Errors, iv.ErrorsByKind = 1, map[string]int64{KindConnectionLoss: 1}
		}
		r.Series = append(r.Series, iv)
		h.SetStartTimeMs(r.Start.Add(iv.Start).UnixMilli())
		h.SetEndTimeMs(r.Start.Add(iv.Start + iv.Len).UnixMilli())
		r.IntervalLatency = append(r.IntervalLatency, h)
	}
	r.UpdateStats()
	return r
}

func TestSummarize(t *testing.T) {
	r := sample(t)
	s := Summarize(r)
	if s.Ops != 1000 || s.Errors != 1 {
		t.Errorf("ops %d errors %d, want 1000 and 1", s.Ops, s.Errors)
	}
	// 1000, 2000, 3000, 4000 ops/s: mean 2500, sample stddev 1290.99.
	if s.Throughput.N != 4 || s.Throughput.Mean != 2500 || math.Abs(s.Throughput.Stddev-1290.994) > 0.01 {
		t.Errorf("throughput %+v", s.Throughput)
	}
	// 1000 values: 100 at 1 ms, 200 at 2, 300 at 3, 400 at 4 → median 3 ms.
	if p := s.ByOp["getData"].P50; p < 2990*time.Microsecond || p > 3010*time.Microsecond {
		t.Errorf("p50 %v, want 3ms", p)
	}
	if s.All.Count != 1000 || s.All.Max < 4*time.Millisecond {
		t.Errorf("all: %+v", s.All)
	}
	// A short last interval (cancelled run) is left out of throughput.
	r.Series[3].Len = 10 * time.Millisecond
	if got := Summarize(r).Throughput.N; got != 3 {
		t.Errorf("short interval counted: n=%d", got)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run1")
	r := sample(t)
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Schema != SchemaVersion || !reflect.DeepEqual(got.Spec, r.Spec) || !got.Start.Equal(r.Start) {
		t.Errorf("header changed: %+v", got)
	}
	if !reflect.DeepEqual(got.Series, r.Series) || !reflect.DeepEqual(got.Events, r.Events) ||
		!reflect.DeepEqual(got.Ensemble, r.Ensemble) || !reflect.DeepEqual(got.Ops, r.Ops) {
		t.Errorf("body changed:\n got %+v\nwant %+v", got, r)
	}
	if !got.Latency["getData"].Equals(r.Latency["getData"]) {
		t.Error("latency histogram changed")
	}
	if len(got.IntervalLatency) != 4 || got.IntervalLatency[2].TotalCount() != 300 {
		t.Fatalf("interval histograms: %d", len(got.IntervalLatency))
	}
	for i, h := range got.IntervalLatency {
		want := r.IntervalLatency[i]
		// The log keeps times as floating-point seconds: within a millisecond.
		if abs(h.StartTimeMs()-want.StartTimeMs()) > 1 || abs(h.EndTimeMs()-want.EndTimeMs()) > 1 || !h.Equals(want) {
			t.Errorf("interval histogram %d: %d..%d, want %d..%d", i, h.StartTimeMs(), h.EndTimeMs(), want.StartTimeMs(), want.EndTimeMs())
		}
	}
	// The CSV has one row per interval with the counts.
	f, _ := os.ReadFile(filepath.Join(dir, CSVFile))
	rows, err := csv.NewReader(bytes.NewReader(f)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 || rows[0][2] != "ops" || rows[3][2] != "300" || rows[3][3] != "3000.0" {
		t.Errorf("csv:\n%s", f)
	}
	if !strings.Contains(string(f), "errors_connection_loss") {
		t.Errorf("csv lacks the error kind column:\n%s", f)
	}
}

func TestReadRejectsNewerSchema(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, JSONFile), []byte(`{"schema": 99}`), 0o644)
	if _, err := Read(dir); !errors.Is(err, ErrSchema) {
		t.Errorf("got %v", err)
	}
	if _, err := Read(filepath.Join(dir, "missing")); err == nil {
		t.Error("reading a missing directory succeeded")
	}
}

func TestDistOf(t *testing.T) {
	if d := DistOf(nil); d != (Dist{}) {
		t.Errorf("empty: %+v", d)
	}
	d := DistOf([]float64{2, 4, 4, 4, 5, 5, 7, 9})
	if d.Mean != 5 || d.Median != 4.5 || d.Min != 2 || d.Max != 9 || math.Abs(d.Stddev-2.138) > 0.001 {
		t.Errorf("%+v", d)
	}
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
