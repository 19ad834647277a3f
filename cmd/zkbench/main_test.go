package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/internal/synth"
	"github.com/zkbench/zkbench/perf"
	"github.com/zkbench/zkbench/results"
)

// TestMain lets the test binary stand in for zkbench when it launches
// servers from os.Executable(): internal-zkserver start-foreground for the
// Go servers, internal-zknoop for the no-op bound, internal-zkserver-pprof
// for profiles.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == internalServer || os.Args[1] == internalNoop || os.Args[1] == internalProfServer) {
		cmd := newRoot(os.Stdout, os.Stderr)
		cmd.SetArgs(os.Args[1:])
		if err := cmd.Execute(); err != nil {
			os.Stderr.WriteString("zkbench: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// zkbench runs the command line in-process.
func zkbench(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRoot(&out, &errb)
	cmd.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	err = cmd.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign")
	os.MkdirAll(foreign, 0o755)
	os.WriteFile(filepath.Join(foreign, results.JSONFile), []byte(`{"name": "not a zkbench result"}`), 0o644)
	notJSON := filepath.Join(dir, "notes.txt")
	os.WriteFile(notJSON, []byte("hello"), 0o644)
	good := writeSynth(t, dir, "good", synth.Options{ReadPercent: 70, Seed: 1})
	otherWorkload := writeSynth(t, dir, "other", synth.Options{ReadPercent: 0, Servers: 5, Seed: 2})

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--writes", "130%"}, "130% is out of range: want a percentage from 0 to 100"},
		{[]string{"run", "--reads", "-5"}, "want a percentage from 0 to 100"},
		{[]string{"run", "--writes", "lots"}, `"lots" is not a percentage`},
		{[]string{"run", "--writes", "30", "--reads", "70"}, "give --writes or --reads, not both"},
		{[]string{"run", "--servers", "0"}, "--servers 0: want at least 1"},
		{[]string{"run", "--impl", "rust"}, `--impl "rust": want go, java, mixed or external`},
		{[]string{"run", "--impl", "external"}, "--impl external needs --connect"},
		{[]string{"run", "--clients", "0"}, "clients"},
		{[]string{"run", "--faults", filepath.Join(dir, "missing.txt")}, "want none, paper, random or a schedule file"},
		{[]string{"run", "extra"}, "unknown command"},
		{[]string{"sweep", "--sizes", "3,zero"}, `"zero" is not an ensemble size`},
		{[]string{"sweep", "--reads", "0,150"}, "150 is out of range"},
		{[]string{"sweep", "--rates", "1000,fast"}, `--rates: "fast" is not a rate`},
		{[]string{"sweep", "--impl", "external", "--connect", "h:1"}, "sweep starts ensembles"},
		{[]string{"reliability", "--faults", "none"}, "reliability needs a fault schedule"},
		{[]string{"regress"}, `required flag(s) "baseline" not set`},
		{[]string{"regress", "--baseline", filepath.Join(dir, "missing")}, "no such file or directory"},
		{[]string{"regress", "--baseline", foreign, good}, "is not a result this zkbench can read"},
		{[]string{"regress", "--baseline", notJSON, good}, "is not a result: want a run directory holding result.json"},
		{[]string{"regress", "--baseline", good, otherWorkload}, "different workload: servers 3 (baseline) vs 5, read_percent 70 (baseline) vs 0"},
		{[]string{"regress", "--baseline", good, good, "--threshold", "0"}, "--threshold 0%: want a positive percentage"},
		{[]string{"compare", good}, "nothing to compare"},
		{[]string{"compare"}, "nothing to compare"},
		{[]string{"compare", "--impl", "go", good}, "not both"},
		{[]string{"compare", "--sizes", "1", good}, "not both"},
		{[]string{"compare", "--impl", "go,java", "--reads", "0,100"}, "a list of read percentages is for the repeated comparison"},
		{[]string{"compare", "--sizes", "1,zero"}, `"zero" is not an ensemble size`},
		{[]string{"compare", "--reps", "0"}, "--reps 0: want at least 1 repetition"},
		{[]string{"compare", "--bound", "--reads", "0,150"}, "150 is out of range"},
		{[]string{"compare", "--bound", "--servers", "3"}, "--servers: the repeated comparison (--sizes, --reps, --bound) takes --sizes"},
		{[]string{"compare", "--bound", "--writes", "30"}, "takes --reads"},
		{[]string{"compare", "--bound", "--faults", "paper"}, "--faults: not supported by the repeated comparison"},
		{[]string{"compare", "--bound", "--impl", "go,external"}, `--impl "external": the repeated comparison runs go and java`},
		{[]string{"compare", "--bound", "--impl", "go,go"}, "go given twice"},
		{[]string{"compare", "--reps", "2", "--impl", "go"}, "nothing to compare: --impl go alone"},
		{[]string{"compare", "--go-variant", "before"}, "want NAME=COMMAND"},
		{[]string{"compare", "--go-variant", "noop=/bin/zkserver"}, "names a built-in implementation"},
		{[]string{"compare", "--go-variant", "a=x", "--go-variant", "a=y"}, `"a" given twice`},
		{[]string{"compare", "--go-command", " ", "--bound"}, "give the command that starts a Go server"},
		{[]string{"compare", "--bound", "--clients", "0"}, "clients"},
		{[]string{"compare", "--bound", "--profile", "1:70,3"}, `--profile: "3" is not SIZE:READS`},
		{[]string{"compare", "--bound", "--profile", "1:170"}, "--profile 1:170: 170 is out of range"},
		{[]string{"report"}, "requires at least 1 arg"},
		{[]string{"report", dir + "/nothing-here"}, "no such file"},
		{[]string{"report", "--p99", "0s", good}, "--p99 0s: want a positive latency"},
	} {
		_, _, err := zkbench(t, append(tc.args, "--out", dir)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("zkbench %s: err = %v, want one containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

func TestPercentFlag(t *testing.T) {
	for in, want := range map[string]float64{"30%": 30, "30": 30, " 12.5 % ": 12.5, "0": 0, "100%": 100} {
		var p percent
		if err := p.Set(in); err != nil || p.v != want {
			t.Errorf("Set(%q) = %v, %v; want %v", in, p.v, err, want)
		}
	}
}

func TestHelpHasExamples(t *testing.T) {
	for _, c := range []string{"run", "sweep", "reliability", "compare", "report", "regress"} {
		out, _, err := zkbench(t, c, "--help")
		if err != nil || !strings.Contains(out, "Examples:") || !strings.Contains(out, "zkbench "+c) {
			t.Errorf("zkbench %s --help: err %v, no example:\n%s", c, err, out)
		}
	}
	out, _, _ := zkbench(t, "--help")
	if strings.Contains(out, internalServer) {
		t.Errorf("the hidden %s command shows in help:\n%s", internalServer, out)
	}
}

func writeSynth(t *testing.T, root, name string, o synth.Options) string {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := results.Write(dir, synth.Result(o)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRegressFromFiles(t *testing.T) {
	dir := t.TempDir()
	base := writeSynth(t, dir, "base", synth.Options{ReadPercent: 70, Throughput: 20000, Seed: 1})
	same := writeSynth(t, dir, "same", synth.Options{ReadPercent: 70, Throughput: 20000, Seed: 2})
	slow := writeSynth(t, dir, "slow", synth.Options{ReadPercent: 70, Throughput: 15000, Seed: 3})

	out, _, err := zkbench(t, "regress", "--baseline", base, same)
	if err != nil || !strings.Contains(out, "ok: no significant regression") {
		t.Errorf("same throughput: err %v\n%s", err, out)
	}
	out, _, err = zkbench(t, "regress", "--baseline", base, slow)
	if !errors.Is(err, errRegressed) || !strings.Contains(out, "WORSE") || !strings.Contains(out, "-25.") {
		t.Errorf("25%% slower: err %v, want errRegressed and a WORSE row\n%s", err, out)
	}
	// A 30% threshold lets a 25% drop pass.
	if _, _, err := zkbench(t, "regress", "--baseline", base, slow, "--threshold", "30%"); err != nil {
		t.Errorf("25%% slower with a 30%% threshold: %v", err)
	}
}

func TestReportAndCompareFromFiles(t *testing.T) {
	dir := t.TempDir()
	sweep := filepath.Join(dir, "sweep")
	for _, n := range []int{3, 5} {
		for _, reads := range []float64{0, 50, 100} {
			tp := 20000/float64(n)*(1-reads/100) + 20000*float64(n)*reads/100
			r := synth.Result(synth.Options{Servers: n, ReadPercent: reads, Throughput: tp, Duration: 2 * time.Second, Seed: uint64(n)})
			if _, err := experiment.Save(sweep, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, _, err := zkbench(t, "report", "--out", dir, "--p99", "20ms", "--load", "60000", "--reads", "100%", sweep)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "go: 5 servers serve 60k ops/s at 100% reads") {
		t.Errorf("report does not name 5 servers for 60k reads/s:\n%s", out)
	}
	reports, _ := filepath.Glob(filepath.Join(dir, "*-report", "report.html"))
	if len(reports) != 1 {
		t.Fatalf("report.html: found %v", reports)
	}
	html, _ := os.ReadFile(reports[0])
	if !strings.Contains(string(html), `src="data:image/png;base64,`) {
		t.Error("report.html embeds no PNG")
	}

	runs, _ := filepath.Glob(filepath.Join(sweep, "*-go-3srv-*"))
	if len(runs) != 3 {
		t.Fatalf("sweep dirs: %v", runs)
	}
	for _, r := range runs {
		for _, f := range []string{"result.json", "intervals.csv", "latency.hlog", "throughput.png", "throughput.svg", "latency-spectrum.png", "report.md"} {
			if _, err := os.Stat(filepath.Join(r, f)); err != nil {
				t.Errorf("run directory lacks %s: %v", f, err)
			}
		}
	}
	out, _, err = zkbench(t, "compare", "--out", dir, runs[0], runs[1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "throughput mean (ops/s)") || !strings.Contains(out, "compare.md") {
		t.Errorf("compare output:\n%s", out)
	}
	// Two read percentages: the read-ratio overlay too.
	pngs, _ := filepath.Glob(filepath.Join(dir, "*-compare", "*.png"))
	var names []string
	for _, p := range pngs {
		names = append(names, filepath.Base(p))
	}
	if got := strings.Join(names, " "); got != "latency-spectrum.png latency.png readratio.png throughput.png" {
		t.Errorf("compare graphs: %s, want latency-spectrum, latency, readratio and throughput", got)
	}
}

// TestRunStandaloneGo runs the real thing briefly: a Go server launched from
// this test binary (through internal-zkserver), two seconds of load.
func TestRunStandaloneGo(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := zkbench(t, "run", "--servers", "1", "--duration", "2s", "--warmup", "300ms",
		"--clients", "4", "--outstanding", "4", "--writes", "50%", "--out", dir)
	if err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	rd, r := readRun(t, dir, "*-go-1srv-50w")
	s := results.Summarize(r)
	if s.Ops == 0 || r.Ensemble.Implementation != "go" || r.Spec.ReadPercent != 50 {
		t.Errorf("result: %d ops, impl %q, reads %g%%", s.Ops, r.Ensemble.Implementation, r.Spec.ReadPercent)
	}
	if r.Ops["setData"] == nil || r.Ops["setData"].Count == 0 {
		t.Error("no setData completed with 50% writes")
	}
	for _, f := range []string{"throughput.png", "latency.png", "latency-spectrum.svg", "report.md"} {
		if _, err := os.Stat(filepath.Join(rd, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestSweepStandaloneGo sweeps two read percentages, closed loop and at an
// open-loop rate, on one Go server, and plans capacity from the files.
func TestSweepStandaloneGo(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := zkbench(t, "sweep", "--sizes", "1", "--reads", "0,100", "--rates", "200",
		"--duration", "1s", "--warmup", "200ms", "--clients", "2", "--outstanding", "2", "--out", dir)
	if err != nil {
		t.Fatalf("sweep: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	sweeps, _ := filepath.Glob(filepath.Join(dir, "*-sweep-go"))
	if len(sweeps) != 1 {
		t.Fatalf("sweep directory: %v", sweeps)
	}
	for _, f := range []string{"readratio.png", "readratio.svg", "sweep.md"} {
		if _, err := os.Stat(filepath.Join(sweeps[0], f)); err != nil {
			t.Error(err)
		}
	}
	runs, _ := filepath.Glob(filepath.Join(sweeps[0], "*-go-1srv-*w-200ops"))
	if len(runs) != 2 {
		t.Fatalf("open-loop runs named ...-200ops: %v", runs)
	}
	rs, _, err := experiment.ReadAll(runs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Spec.Mode != "open" || r.Spec.Rate != 200 {
			t.Errorf("run %s: mode %s rate %g, want open at 200", r.Spec.Name, r.Spec.Mode, r.Spec.Rate)
		}
		// Paced, not saturating: never much above the rate.
		if tp := results.Summarize(r).Throughput.Mean; tp <= 0 || tp > 300 {
			t.Errorf("open loop at 200 ops/s achieved %.0f ops/s", tp)
		}
	}
	out, _, err = zkbench(t, "report", "--out", dir, "--p99", "1s", "--load", "150", "--reads", "50", sweeps[0])
	if err != nil || !strings.Contains(out, "1 server serves 150 ops/s at 50% reads") {
		t.Errorf("report: %v\n%s", err, out)
	}
}

func TestSpecFileWithFlagOverrides(t *testing.T) {
	f := filepath.Join(t.TempDir(), "w.yaml")
	if err := os.WriteFile(f, []byte("name: mine\nread_percent: 90\nclients: 5\nvalue_size: 100\nduration: 7s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := loadOptions{specFile: f, clients: 60, outstanding: 100, valueSize: 1024, keys: 1000, duration: 10 * time.Second, seed: 1}
	o.writes.v = 30 // the default, not given
	// Only --clients was given on the command line.
	s, err := o.spec("run", func(flag string) bool { return flag == "clients" })
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "mine" || s.ReadPercent != 90 || s.ValueSize != 100 || s.Duration != 7*time.Second || s.Clients != 60 {
		t.Errorf("spec from file with --clients 60: %+v", s)
	}
	o.writes.set = true
	if s, _ := o.spec("run", func(string) bool { return false }); s.ReadPercent != 70 {
		t.Errorf("--writes 30%% over a file's 90%% reads: read_percent %g, want 70", s.ReadPercent)
	}
}

// TestRunGoEnsemble runs two seconds of load on three Go servers launched
// from this binary: clients go to the followers only (leaderServes=no, as in
// the paper's setup).
func TestRunGoEnsemble(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := zkbench(t, "run", "--duration", "2s", "--warmup", "300ms",
		"--clients", "4", "--outstanding", "2", "--out", dir)
	if err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	rs, _, err := experiment.ReadAll([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	if r.Ensemble.Size != 3 || r.Ensemble.Config["leaderServes"] != "no" || r.Driver.Placement != "followers" {
		t.Errorf("ensemble %+v, placement %q: want 3 servers, leaderServes=no, clients on followers", r.Ensemble, r.Driver.Placement)
	}
	leaders := 0
	for _, m := range r.Ensemble.Members {
		if m.Role == "leader" {
			leaders++
			if m.Clients != 0 {
				t.Errorf("the leader took %d clients", m.Clients)
			}
		}
	}
	if leaders != 1 {
		t.Errorf("%d leaders among %+v", leaders, r.Ensemble.Members)
	}
	if s := results.Summarize(r); s.Ops == 0 {
		t.Error("no operation completed")
	}
}

// TestRunWithFaults kills and restarts a follower of a 3-server Go ensemble
// during a short run and checks the time line.
func TestRunWithFaults(t *testing.T) {
	dir := t.TempDir()
	sched := filepath.Join(dir, "follower.txt")
	if err := os.WriteFile(sched, []byte("at 500ms kill follower as f # 1\nat 1200ms restart f # 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := zkbench(t, "run", "--duration", "4s", "--warmup", "300ms", "--clients", "4", "--outstanding", "2",
		"--faults", sched, "--out", dir)
	if err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	rd, r := readRun(t, dir, "*-go-3srv-30w-follower")
	var kill, restart *results.Event
	for i, ev := range r.Events {
		switch ev.Name {
		case "kill":
			kill = &r.Events[i]
		case "restart":
			restart = &r.Events[i]
		}
	}
	if kill == nil || restart == nil {
		t.Fatalf("events %+v: want a kill and a restart", r.Events)
	}
	if !strings.HasPrefix(kill.Detail, "1: kill server ") || !strings.Contains(kill.Detail, "(follower)") {
		t.Errorf("kill event %q: want it numbered 1 and naming a follower", kill.Detail)
	}
	// The schedule starts with the measured part: the kill comes after
	// 500 ms and before the restart.
	if kill.At < 500*time.Millisecond || restart.At <= kill.At {
		t.Errorf("kill at %v, restart at %v: want the kill 500 ms or more into the measured part, then the restart", kill.At, restart.At)
	}
	if _, err := os.Stat(filepath.Join(rd, "throughput.png")); err != nil {
		t.Error(err)
	}
}

// TestCompareRepeatedSmoke runs the repeated comparison at its smallest: one
// Go server and the no-op bound, both launched from this test binary, one
// repetition of one short run each.
func TestCompareRepeatedSmoke(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := zkbench(t, "compare", "--impl", "go", "--bound", "--sizes", "1", "--reads", "70", "--reps", "1",
		"--clients", "4", "--outstanding", "4", "--keys", "50", "--warmup", "200ms", "--duration", "1s", "--out", dir)
	if err != nil {
		t.Fatalf("compare: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	runs, _ := filepath.Glob(filepath.Join(dir, "*-compare-go-noop-x1"))
	if len(runs) != 1 {
		t.Fatalf("run directory named <time>-compare-go-noop-x1: found %v", runs)
	}
	if !strings.Contains(out, "| 1 | 70 % |") || !strings.Contains(out, runs[0]) {
		t.Errorf("stdout lacks the ratio table or the directory:\n%s", out)
	}
	if !strings.Contains(errOut, "noop x1") {
		t.Errorf("stderr lacks the progress lines:\n%s", errOut)
	}
	md, err := os.ReadFile(filepath.Join(runs[0], "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "Go/bound") || !strings.Contains(string(md), "CPU per operation") {
		t.Errorf("report.md lacks the bound or CPU per operation:\n%s", md)
	}
	js, err := os.ReadFile(filepath.Join(runs[0], "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Points  []perf.Point  `json:"points"`
		Samples []perf.Sample `json:"samples"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if len(doc.Points) != 1 || doc.Points[0].GoOfNoop.N != 1 || doc.Points[0].GoOfNoop.Median <= 0 {
		t.Errorf("report.json points: %+v, want one with a Go/bound ratio", doc.Points)
	}
	for _, s := range doc.Samples {
		if s.Ops == 0 || s.ServerUsPerOp <= 0 || s.DriverUsPerOp <= 0 {
			t.Errorf("%s: %d ops, CPU per operation server %v µs, driver %v µs", s.Impl, s.Ops, s.ServerUsPerOp, s.DriverUsPerOp)
		}
	}
}
