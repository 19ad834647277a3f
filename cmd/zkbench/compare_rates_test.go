package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCompareRatesFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"compare", "--rates", "fast"}, `--rates: rate "fast"`},
		{[]string{"compare", "--rates", "150%"}, "at most 100"},
		{[]string{"compare", "--impl", "go", "--bound", "--rates", "50%"}, "Java is not measured"},
	} {
		_, _, err := zkbench(t, append(tc.args, "--out", dir)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("zkbench %s: err = %v, want one containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	// The repeated comparison warms up until steady unless --warmup is given.
	var o compareOptions
	o.rep.rates = "50%,5000"
	o.rep.reps, o.rep.sizes = 1, "1"
	o.load = loadOptions{clients: 60, outstanding: 1, valueSize: 1024, keys: 1000, duration: 5 * time.Second, seed: 1, warmupMax: 20 * time.Second}
	o.ens.impl = "go,java"
	c, err := repeatedConfig(o, func(f string) bool { return f == "rates" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.WarmupMax != 20*time.Second || c.Warmup != 0 || len(c.Rates) != 2 || c.Rates[1].PerSecond != 5000 {
		t.Errorf("config warm-up %v max %v, rates %+v; want automatic up to 20s and 50%%, 5000", c.Warmup, c.WarmupMax, c.Rates)
	}
	o.load.warmup = warmupFlag{d: 2 * time.Second}
	c, err = repeatedConfig(o, func(f string) bool { return f == "rates" || f == "warmup" }, nil)
	if err != nil || c.WarmupMax != 0 || c.Warmup != 2*time.Second {
		t.Errorf("--warmup 2s: warm-up %v max %v (%v), want a fixed 2s", c.Warmup, c.WarmupMax, err)
	}
}

func TestParseRegimes(t *testing.T) {
	rs, err := parseRegimes("sync, pipelined", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0] != (regime{"sync", 1}) || rs[1] != (regime{"pipelined", 100}) {
		t.Errorf("regimes %+v, want sync (1 outstanding) and pipelined (100)", rs)
	}
	if rs, err := parseRegimes("pipelined", 1); err == nil {
		t.Errorf("pipelined with --outstanding 1 accepted: %+v", rs)
	}
	for _, bad := range []string{"async", "sync,sync"} {
		if _, err := parseRegimes(bad, 100); err == nil {
			t.Errorf("--regimes %s accepted", bad)
		}
	}
	if rs, err := parseRegimes("", 100); err != nil || rs != nil {
		t.Errorf("no --regimes: %+v, %v; want none (one run at --outstanding)", rs, err)
	}
}

// TestCompareRegimesSmoke runs both regimes in one invocation at their
// smallest (Go against the no-op bound, one standalone server): a report
// per regime in its own directory and an index naming both.
func TestCompareRegimesSmoke(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := zkbench(t, "compare", "--impl", "go", "--bound", "--sizes", "1", "--reads", "70", "--reps", "1",
		"--regimes", "sync,pipelined", "--clients", "4", "--outstanding", "4", "--keys", "50", "--warmup", "200ms", "--duration", "1s", "--out", dir)
	if err != nil {
		t.Fatalf("compare: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	runs, _ := filepath.Glob(filepath.Join(dir, "*-compare-go-noop-x1"))
	if len(runs) != 1 {
		t.Fatalf("run directory: %v", runs)
	}
	for name, outstanding := range map[string]string{"sync": "4 clients x 1 outstanding", "pipelined": "4 clients x 4 outstanding"} {
		md, err := os.ReadFile(filepath.Join(runs[0], name, "report.md"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(md), outstanding) {
			t.Errorf("%s/report.md is not of %s:\n%s", name, outstanding, md)
		}
	}
	index, err := os.ReadFile(filepath.Join(runs[0], "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## sync: 4 clients x 1 outstanding", "## pipelined: 4 clients x 4 outstanding", "(sync/report.md)", "Go/bound"} {
		if !strings.Contains(string(index), want) || !strings.Contains(out, want) {
			t.Errorf("report.md or stdout lacks %q:\n%s\n---\n%s", want, index, out)
		}
	}
}
