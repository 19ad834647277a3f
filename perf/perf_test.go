package perf

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/zkbin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	zkbin.RemoveBuilds()
	os.Exit(code)
}

// TestPointsPairRepetitions checks that ratios pair runs of the same
// repetition and that the target follows the no-op bound rule.
func TestPointsPairRepetitions(t *testing.T) {
	r := &Report{Config: ReportConfig{Sizes: []int{1}, ReadPercents: []float64{0, 100}, Reps: 2, Outstanding: 100}}
	add := func(impl string, reads float64, rep int, tput float64, p99 time.Duration) {
		r.Samples = append(r.Samples, Sample{Impl: impl, Size: 1, ReadPercent: reads, Rep: rep, Throughput: tput, P99: p99})
	}
	// 0 % reads: Go 3.5x and 2.5x Java in the two repetitions.
	add(harness.ImplGo, 0, 1, 35000, time.Millisecond)
	add(harness.ImplJava, 0, 1, 10000, 4*time.Millisecond)
	add(harness.ImplGo, 0, 2, 10000, time.Millisecond)
	add(harness.ImplJava, 0, 2, 4000, 4*time.Millisecond)
	add(ImplNoop, 0, 1, 80000, 0)
	add(ImplNoop, 0, 2, 80000, 0)
	// 100 % reads: 3x Java would pass the bound; Go is at 90 % of it.
	add(harness.ImplGo, 100, 1, 72000, 3*time.Millisecond)
	add(harness.ImplJava, 100, 1, 40000, 4*time.Millisecond)
	add(ImplNoop, 100, 1, 80000, 2*time.Millisecond)
	pts := r.Points()
	if len(pts) != 2 {
		t.Fatalf("got %d points, want 2", len(pts))
	}
	p := pts[0]
	if p.Ratio.N != 2 || p.Ratio.Min != 2.5 || p.Ratio.Max != 3.5 || p.Ratio.Median != 3 {
		t.Errorf("0%% reads: ratio %+v, want 2.5..3.5 median 3", p.Ratio)
	}
	if v := p.Target.Judge(p); v != Met {
		t.Errorf("0%% reads: %v, want the target met (3x Java)", v)
	}
	q := pts[1]
	if q.GoOfNoop.Median != 0.9 {
		t.Errorf("100%% reads: Go/bound %v, want 0.9", q.GoOfNoop.Median)
	}
	if v := q.Target.Judge(q); v != Met {
		t.Errorf("100%% reads: %v, want the target met (bound rule)", v)
	}
	if q.NoopP99.Median != 2 || q.NoopP99Ratio.Median != 0.5 {
		t.Errorf("100%% reads: no-op p99 %v ms, no-op/Java %v, want 2 and 0.5", q.NoopP99.Median, q.NoopP99Ratio.Median)
	}
	md := r.Markdown()
	for _, want := range []string{"| 1 | 0 % | 22500 (10000–35000) |", "3.00 (2.50–3.50)", "(issue 9)", "| 2.0 | 0.50 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// build compiles the main packages with zkbin (once per test binary) and
// returns their paths; a failed build fails the test.
func build(t *testing.T, pkgs ...string) []string {
	t.Helper()
	var out []string
	for _, pkg := range pkgs {
		bin, err := zkbin.Build(pkg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bin)
	}
	return out
}

// TestCompareSmoke runs the comparison end to end at its smallest: one
// standalone Go server and one no-op responder, one short run each.
func TestCompareSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped with -short")
	}
	bins := build(t, zkbin.ZkserverPkg, "github.com/zkbench/zkbench/cmd/zknoop")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Compare(ctx, Config{
		Sizes: []int{1}, ReadPercents: []float64{70}, Reps: 1,
		Impls:   []string{harness.ImplGo, ImplNoop},
		Clients: 4, Outstanding: 4, Keys: 50,
		Warmup: 200 * time.Millisecond, Duration: time.Second,
		GoCommand: []string{bins[0], "start-foreground"}, NoopCommand: []string{bins[1]},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Samples) != 2 {
		t.Fatalf("%d samples, want 2 (go, noop): %+v", len(rep.Samples), rep.Samples)
	}
	for _, s := range rep.Samples {
		if s.Ops == 0 || s.Throughput <= 0 {
			t.Errorf("%s: no operations measured: %+v", s.Impl, s)
		}
		if s.ServerUsPerOp <= 0 || s.DriverUsPerOp <= 0 {
			t.Errorf("%s: CPU per operation not measured: server %v µs, driver %v µs", s.Impl, s.ServerUsPerOp, s.DriverUsPerOp)
		}
		t.Logf("%s: %.0f ops/s, CPU per operation: server %.1f µs, driver %.1f µs", s.Impl, s.Throughput, s.ServerUsPerOp, s.DriverUsPerOp)
	}
	if len(rep.Memory) != 1 || rep.Memory[0].IdleKiB[0] <= 0 || rep.Memory[0].PeakKiB[0] < rep.Memory[0].IdleKiB[0] {
		t.Errorf("memory figures missing or inconsistent: %+v", rep.Memory)
	}
	if len(rep.Launch) != 1 || !rep.Launch[0].SameSession {
		t.Errorf("launch record: %+v, want the Go server in the driver's session", rep.Launch)
	}
	dir := t.TempDir()
	if err := rep.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.md", "report.json"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
}
