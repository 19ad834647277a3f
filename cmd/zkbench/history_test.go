package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/synth"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/results/trend"
)

// writeHistory writes n commits' results (one run each) under root, with
// throughput 10000 ops/s, or 9000 from commit stepAt on (none if < 0).
func writeHistory(t *testing.T, root string, n, stepAt int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range n {
		tp := 10000.0
		if stepAt >= 0 && i >= stepAt {
			tp = 9000
		}
		r := synth.Result(synth.Options{ReadPercent: 70, Duration: 3 * time.Second, Throughput: tp * (1 + 0.02*rng.NormFloat64()), Seed: uint64(i),
			Start: time.Date(2026, 12, 1, i, 0, 0, 0, time.UTC)})
		r.Build.Revision = fmt.Sprintf("%040x", 0xc0ffee00+i)
		if err := results.Write(filepath.Join(root, fmt.Sprintf("run-%02d", n-i)), r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHistory(t *testing.T) {
	dir := t.TempDir()
	stepped := filepath.Join(dir, "stepped")
	writeHistory(t, stepped, 30, 20)
	out := filepath.Join(dir, "out")

	stdout, _, err := zkbench(t, "history", "--out", out, "--fail-on-regression", stepped)
	if !errors.Is(err, errRegressed) {
		t.Fatalf("a 10%% drop 10 commits back with --fail-on-regression: err %v, want errRegressed\n%s", err, stdout)
	}
	rev := fmt.Sprintf("%040x", 0xc0ffee00+20)
	for _, want := range []string{"30 commits", "throughput", "#20 " + rev[:12], "-10.", "WORSE", "REGRESSION"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("history output lacks %q:\n%s", want, stdout)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(out, "*-history"))
	if len(dirs) != 1 {
		t.Fatalf("history directories: %v", dirs)
	}
	for _, f := range []string{"history.json", "history.md", "s1-throughput.png", "s1-throughput.svg", "s1-p99-latency.png"} {
		if _, err := os.Stat(filepath.Join(dirs[0], f)); err != nil {
			t.Errorf("history directory lacks %s: %v", f, err)
		}
	}

	// --json prints the same summary that history.json holds.
	stdout, _, err = zkbench(t, "history", "--out", out, "--json", stepped)
	if err != nil {
		t.Fatalf("without --fail-on-regression: %v", err)
	}
	var sum historySummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if len(sum.Series) != 1 || len(sum.Regressions) != 1 || sum.Regressions[0].Revision != rev || sum.Regressions[0].Metric != trend.Throughput {
		t.Errorf("--json summary: %+v", sum)
	}

	// The regression is older than --recent: it passes.
	if _, _, err := zkbench(t, "history", "--out", out, "--fail-on-regression", "--recent", "5", stepped); err != nil {
		t.Errorf("--recent 5: %v", err)
	}
	flat := filepath.Join(dir, "flat")
	writeHistory(t, flat, 30, -1)
	if stdout, _, err := zkbench(t, "history", "--out", out, "--fail-on-regression", flat); err != nil || !strings.Contains(stdout, "no change") {
		t.Errorf("flat history: %v\n%s", err, stdout)
	}
}

func TestHistoryBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"history"}, "requires at least 1 arg"},
		{[]string{"history", filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"history", "--threshold", "0", dir}, "--threshold 0%: want a positive percentage"},
		{[]string{"history", "--alpha", "1", dir}, "--alpha 1"},
		{[]string{"history", "--min-size", "1", dir}, "--min-size 1: want at least 2"},
	} {
		_, _, err := zkbench(t, append(tc.args, "--out", dir)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != exitUsage {
			t.Errorf("zkbench %s: err %v (exit %d), want exit 2 and %q", strings.Join(tc.args, " "), err, exitCode(err), tc.want)
		}
	}
}
