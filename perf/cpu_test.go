package perf

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/harness"
)

func TestCPUAtInterpolates(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	samples := []cpuSample{{at(0), 1.0}, {at(100), 1.2}, {at(200), 1.6}, {at(300), 1.6}}
	for _, tc := range []struct {
		ms   int
		want float64
	}{
		{0, 1.0},     // first sample exactly
		{50, 1.1},    // halfway in the first span
		{100, 1.2},   // on a sample
		{175, 1.5},   // three quarters of the second span
		{250, 1.6},   // idle span
		{300, 1.6},   // last sample exactly
		{125, 1.3},   // a quarter into the second span
		{199, 1.596}, // just before a sample
	} {
		got, err := cpuAt(samples, at(tc.ms))
		if err != nil {
			t.Fatalf("cpuAt(%d ms): %v", tc.ms, err)
		}
		if math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("cpuAt(%d ms) = %v, want %v", tc.ms, got, tc.want)
		}
	}
	// Start and end straddling samples: 1.5 - 1.1 CPU seconds.
	got, err := cpuBetween(samples, at(50), at(175))
	if err != nil || math.Abs(got-0.4) > 1e-9 {
		t.Errorf("cpuBetween(50, 175 ms) = %v, %v; want 0.4", got, err)
	}
	for _, ms := range []int{-1, 301} {
		if _, err := cpuAt(samples, at(ms)); !errors.Is(err, errOutOfRange) {
			t.Errorf("cpuAt(%d ms) error %v, want errOutOfRange (no extrapolation)", ms, err)
		}
	}
	if _, err := cpuBetween(samples, at(-10), at(100)); !errors.Is(err, errOutOfRange) {
		t.Errorf("start before the first sample: error %v, want errOutOfRange", err)
	}
	if _, err := cpuBetween(samples, at(100), at(400)); !errors.Is(err, errOutOfRange) {
		t.Errorf("end after the last sample: error %v, want errOutOfRange", err)
	}
	if _, err := cpuAt(nil, t0); !errors.Is(err, errOutOfRange) {
		t.Errorf("no samples: error %v, want errOutOfRange", err)
	}
}

func TestCPUSamplerBracketsAndStops(t *testing.T) {
	var n float64
	s := startCPUSampler(func() (float64, error) { n++; return n, nil }, 5*time.Millisecond)
	start := time.Now()
	time.Sleep(30 * time.Millisecond)
	end := time.Now()
	samples, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) < 3 {
		t.Fatalf("%d samples, want a first, at least one tick and a last", len(samples))
	}
	for i := 1; i < len(samples); i++ {
		if samples[i].at.Before(samples[i-1].at) || samples[i].sec <= samples[i-1].sec {
			t.Errorf("samples out of order at %d: %+v", i, samples)
		}
	}
	if _, err := cpuBetween(samples, start, end); err != nil {
		t.Errorf("the samples do not bracket the sampled span: %v", err)
	}

	boom := errors.New("boom")
	s = startCPUSampler(func() (float64, error) { return 0, boom }, time.Millisecond)
	if _, err := s.Stop(); !errors.Is(err, boom) {
		t.Errorf("read error %v, want boom", err)
	}
}

// TestMarkdownCPUTable checks the CPU table's medians and ranges, and the
// cores the runs kept busy, from a hand-built report.
func TestMarkdownCPUTable(t *testing.T) {
	r := &Report{Config: ReportConfig{Sizes: []int{1}, ReadPercents: []float64{70}, Reps: 3}}
	r.Machine.Cores = 2
	add := func(impl string, rep int, server, driver float64) {
		r.Samples = append(r.Samples, Sample{Impl: impl, Size: 1, ReadPercent: 70, Rep: rep, Throughput: 100000,
			ServerUsPerOp: server, DriverUsPerOp: driver})
	}
	add(harness.ImplGo, 1, 3.5, 7.0)
	add(harness.ImplGo, 2, 3.9, 7.4)
	add(harness.ImplGo, 3, 3.7, 6.8)
	add(harness.ImplJava, 1, 28, 8.1)
	add(harness.ImplJava, 2, 25, 8.3)
	add(harness.ImplJava, 3, 0, 0) // not measured: left out, not a zero
	add(ImplNoop, 1, 2.5, 6.5)
	pts := r.Points()
	if len(pts) != 1 {
		t.Fatalf("%d points, want 1", len(pts))
	}
	if p := pts[0]; p.JavaServerUs.N != 2 || p.JavaServerUs.Median != 26.5 || p.GoDriverUs.Median != 7.0 {
		t.Errorf("Java server %+v (want 2 runs, median 26.5), Go driver %+v (want median 7)", p.JavaServerUs, p.GoDriverUs)
	}
	// Busy cores: 100k ops/s x (server + driver) µs; Java's third run,
	// unmeasured, is left out.
	if p := pts[0]; p.JavaBusyCores.N != 2 || math.Abs(p.JavaBusyCores.Median-3.47) > 1e-9 || math.Abs(p.GoBusyCores.Max-1.13) > 1e-9 {
		t.Errorf("busy cores: Java %+v (want 2 runs, median 3.47), Go %+v (want max 1.13)", p.JavaBusyCores, p.GoBusyCores)
	}
	md := r.Markdown()
	row := "| 1 | 70 % | 3.7 (3.5–3.9) | 26.5 (25.0–28.0) | 2.5 | 7.0 (6.8–7.4) | 8.2 (8.1–8.3) | 6.5 | 1.05 (1.05–1.13) | 3.47 (3.33–3.61) | 0.90 |"
	if !strings.Contains(md, "## CPU per operation (µs, server processes summed, and the driver)") || !strings.Contains(md, row) {
		t.Errorf("markdown lacks the CPU table row %q:\n%s", row, md)
	}
	if !strings.Contains(md, "kept busy of the machine's 2;") {
		t.Errorf("markdown does not say how many cores the machine has:\n%s", md)
	}
	if !strings.Contains(md, "| 1 | go | 1 | 70 | 100000 | 0.00 | 0.00 | 0 | 0.00 | 3.5 | 7.0 | 1.05 | 0.0 |") {
		t.Errorf("runs table lacks the per-run CPU figures:\n%s", md)
	}
}
