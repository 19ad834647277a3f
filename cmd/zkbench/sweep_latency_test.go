package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/synth"
	"github.com/zkbench/zkbench/results"
)

// openRuns writes synthetic open-loop runs of go and java at a few rates
// and returns their directories.
func openRuns(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	for _, impl := range []string{"go", "java"} {
		for i, rate := range []float64{1000, 2000, 4000} {
			r := synth.Result(synth.Options{Impl: impl, Servers: 3, ReadPercent: 70, Duration: time.Second, Throughput: rate,
				Latency: time.Duration(i+1) * time.Millisecond, Seed: uint64(i + 1)})
			r.Spec.Mode, r.Spec.Rate = "open", rate
			dir := filepath.Join(root, fmt.Sprintf("%s-%.0f", impl, rate))
			if err := results.Write(dir, r); err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// TestReportDrawsLatencyAgainstThroughput: zkbench report over open-loop
// runs adds the latency-against-throughput graph to its plan.
func TestReportDrawsLatencyAgainstThroughput(t *testing.T) {
	root := t.TempDir()
	dirs := openRuns(t, root)
	out, _, err := zkbench(t, append([]string{"report", "--out", root, "--p99", "50ms"}, dirs...)...)
	if err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	reports, _ := filepath.Glob(filepath.Join(root, "*-report"))
	if len(reports) != 1 {
		t.Fatalf("report directories: %v", reports)
	}
	for _, f := range []string{"latency-throughput.png", "latency-throughput.svg"} {
		if _, err := os.Stat(filepath.Join(reports[0], f)); err != nil {
			t.Error(err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(reports[0], "report.md"))
	if !strings.Contains(string(md), "latency-throughput.png") || !strings.Contains(out, "latency-throughput.png") {
		t.Errorf("report.md or stdout does not name the graph:\n%s\n%s", md, out)
	}
}

// TestSweepWritesLatencyAgainstThroughput: a sweep with open-loop runs
// gets the graph and the table of its points in sweep.md.
func TestSweepWritesLatencyAgainstThroughput(t *testing.T) {
	root := t.TempDir()
	dirs := openRuns(t, root)
	var rs []*results.Result
	for _, d := range dirs {
		r, err := results.Read(d)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	var out strings.Builder
	if err := writeSweep(root, rs, &out); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(root, "sweep.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Latency against throughput (open loop)", "| go | 2000 |", "| java | 4000 |", "![Latency against throughput (open loop)](latency-throughput.png)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("sweep.md lacks %q:\n%s", want, md)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "latency-throughput.png")); err != nil {
		t.Error(err)
	}
}

// TestSweepListsRunsWithoutLatency: an open-loop run so far behind that
// none of the operations scheduled in its measured part completed has no
// latency to draw, but its achieved throughput and backlog are in sweep.md.
func TestSweepListsRunsWithoutLatency(t *testing.T) {
	root := t.TempDir()
	r := synth.Result(synth.Options{Impl: "java", Servers: 3, ReadPercent: 70, Duration: time.Second, Throughput: 5000, Seed: 1})
	r.Spec.Mode, r.Spec.Rate = "open", 13000
	r.Latency = nil
	for _, st := range r.Ops {
		st.Latency = results.Latency{}
	}
	r.Driver.Unfinished = 13000
	ok := synth.Result(synth.Options{Impl: "java", Servers: 3, ReadPercent: 70, Duration: time.Second, Throughput: 2000, Latency: time.Millisecond, Seed: 2})
	ok.Spec.Mode, ok.Spec.Rate = "open", 2000
	var out strings.Builder
	if err := writeSweep(root, []*results.Result{ok, r}, &out); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(root, "sweep.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "java, 3 servers, offered 13000 ops/s: achieved 50") || !strings.Contains(string(md), "13000 unfinished") {
		t.Errorf("sweep.md does not list the run left off the curve:\n%s", md)
	}
}
