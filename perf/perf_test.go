package perf

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/harness"
)

// TestPointsPairRepetitions checks that ratios pair runs of the same
// repetition and that the target follows the no-op bound rule.
func TestPointsPairRepetitions(t *testing.T) {
	r := &Report{Config: ReportConfig{Sizes: []int{1}, ReadPercents: []float64{0, 100}, Reps: 2}}
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
	if tp, lt := p.Target(); !tp || !lt {
		t.Errorf("0%% reads: target (%v, %v), want both met", tp, lt)
	}
	q := pts[1]
	if q.GoOfNoop.Median != 0.9 {
		t.Errorf("100%% reads: Go/bound %v, want 0.9", q.GoOfNoop.Median)
	}
	if tp, lt := q.Target(); !tp || lt {
		t.Errorf("100%% reads: target (%v, %v), want throughput met (bound rule), latency not (0.75 > 0.5)", tp, lt)
	}
	if q.NoopP99.Median != 2 || q.NoopP99Ratio.Median != 0.5 {
		t.Errorf("100%% reads: no-op p99 %v ms, no-op/Java %v, want 2 and 0.5", q.NoopP99.Median, q.NoopP99Ratio.Median)
	}
	md := r.Markdown()
	for _, want := range []string{"| 1 | 0 % | 22500 (10000–35000) |", "3.00 (2.50–3.50)", "**no**", "| 2.0 | 0.50 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// build compiles the main packages into dir and returns their paths.
func build(t *testing.T, dir string, pkgs ...string) []string {
	t.Helper()
	var out []string
	for _, pkg := range pkgs {
		bin := filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
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
	bins := build(t, t.TempDir(), "github.com/zkbench/zkbench/cmd/zkserver", "github.com/zkbench/zkbench/cmd/zknoop")
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

func envInts(t *testing.T, name string) []int {
	var out []int
	for _, f := range strings.Split(os.Getenv(name), ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, n)
	}
	return out
}

func envFloats(t *testing.T, name string) []float64 {
	var out []float64
	for _, n := range envInts(t, name) {
		out = append(out, float64(n))
	}
	return out
}

// TestBenchCompare is `make bench-compare`: Go, Java and the no-op bound at
// 1, 3 and 7 servers and 0, 70 and 100 % reads, 3 repetitions, then
// profiles of the Go server. It takes about 20 minutes, so it runs only
// with ZKBENCH_PERF=1. Knobs: ZKBENCH_PERF_SIZES=1,3,7
// ZKBENCH_PERF_READS=0,70,100 ZKBENCH_PERF_REPS=3 ZKBENCH_PERF_DURATION=5s
// ZKBENCH_PERF_OUT=dir (default ../out/bench-compare)
// ZKBENCH_PERF_SERVER_CPUS=n (harness.Options.ServerCPUs; -1 every CPU)
// ZKBENCH_PERF_PROFILE=0 (skip the profiles), ZKBENCH_PERF_PROFILES=1:0,3:0
// (which profiles: size:reads pairs).
func TestBenchCompare(t *testing.T) {
	if os.Getenv("ZKBENCH_PERF") != "1" {
		t.Skip("SKIPPED: the Go-vs-Java comparison takes ~20 minutes; run it with ZKBENCH_PERF=1 (make bench-compare)")
	}
	if _, err := os.Stat("/usr/share/java/zookeeper.jar"); err != nil {
		t.Fatalf("Java ZooKeeper is missing (/usr/share/java/zookeeper.jar): install Debian's zookeeper package: %v", err)
	}
	binDir := t.TempDir()
	bins := build(t, binDir, "github.com/zkbench/zkbench/cmd/zkserver", "github.com/zkbench/zkbench/cmd/zknoop",
		"github.com/zkbench/zkbench/perf/internal/profsrv")
	c := Config{
		Sizes: envInts(t, "ZKBENCH_PERF_SIZES"), ReadPercents: envFloats(t, "ZKBENCH_PERF_READS"),
		GoCommand: []string{bins[0], "start-foreground"}, NoopCommand: []string{bins[1]},
		Log: os.Stderr,
	}
	applyLoadKnobs(t, &c)
	out := outDir("")
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()
	rep := compareAndWrite(t, ctx, c, out)
	if os.Getenv("ZKBENCH_PERF_PROFILE") != "0" {
		for _, pc := range profileConfigs(t) {
			pc.Load, pc.Command, pc.Binary, pc.Dir = c, []string{bins[2], "start-foreground"}, bins[2], filepath.Join(out, "profiles")
			pc.Load.Log = nil
			ps, err := Profile(ctx, pc)
			if err != nil {
				t.Errorf("profile %s: %v", pc.Name, err)
				continue
			}
			rep.Profiles = append(rep.Profiles, ps...)
		}
		if err := rep.WriteFiles(out); err != nil {
			t.Error(err)
		}
	}
	t.Logf("report written to %s\n%s", out, rep.Markdown())
}

// profileConfigs are the profiled runs: ZKBENCH_PERF_PROFILES lists
// size:reads pairs (default 1:100,1:70,1:0,3:0).
func profileConfigs(t *testing.T) []ProfileConfig {
	spec := os.Getenv("ZKBENCH_PERF_PROFILES")
	if spec == "" {
		spec = "1:100,1:70,1:0,3:0"
	}
	var out []ProfileConfig
	for _, f := range strings.Split(spec, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(f), ":")
		size, err1 := strconv.Atoi(a)
		reads, err2 := strconv.ParseFloat(b, 64)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("ZKBENCH_PERF_PROFILES: %q is not size:reads", f)
		}
		name := fmt.Sprintf("ensemble%d-%gr", size, reads)
		if size == 1 {
			name = fmt.Sprintf("standalone-%gr", reads)
		}
		out = append(out, ProfileConfig{Name: name, Size: size, ReadPercent: reads})
	}
	return out
}

// buildAt compiles cmd/zkserver as it was at git revision rev into dir.
func buildAt(t *testing.T, rev, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := exec.Command("sh", "-c", "git -C .. archive "+rev+" | tar -x -C "+src)
	if b, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", rev, err, b)
	}
	bin := filepath.Join(dir, "zkserver-"+rev)
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/zkserver")
	cmd.Dir = src
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build at %s: %v\n%s", rev, err, b)
	}
	return bin
}

// TestBeforeAfter measures the working tree's Go server against its build
// at ZKBENCH_PERF_BASE (a git revision) in the same run: `make
// bench-before-after BASE=rev`. The knobs of TestBenchCompare apply;
// ZKBENCH_PERF_IMPLS adds java and noop (default: go and the variants);
// ZKBENCH_PERF_VARIANTS=name=/path/zkserver,... adds prebuilt servers and
// ZKBENCH_PERF_GO=/path/zkserver replaces the working tree's build.
func TestBeforeAfter(t *testing.T) {
	base, variants := os.Getenv("ZKBENCH_PERF_BASE"), os.Getenv("ZKBENCH_PERF_VARIANTS")
	if base == "" && variants == "" {
		t.Skip("SKIPPED: set ZKBENCH_PERF_BASE=<git revision> to compare the Go server against that build (make bench-before-after BASE=rev)")
	}
	dir := t.TempDir()
	bins := build(t, dir, "github.com/zkbench/zkbench/cmd/zkserver", "github.com/zkbench/zkbench/cmd/zknoop")
	if g := os.Getenv("ZKBENCH_PERF_GO"); g != "" {
		bins[0] = g
	}
	c := Config{
		Sizes: envInts(t, "ZKBENCH_PERF_SIZES"), ReadPercents: envFloats(t, "ZKBENCH_PERF_READS"),
		Impls:     []string{harness.ImplGo},
		GoCommand: []string{bins[0], "start-foreground"}, NoopCommand: []string{bins[1]},
		GoVariants: map[string][]string{},
		Log:        os.Stderr,
	}
	if base != "" {
		c.GoVariants["go-before"] = []string{buildAt(t, base, dir), "start-foreground"}
		c.Impls = append(c.Impls, "go-before")
	}
	for _, v := range strings.Split(variants, ",") {
		if name, bin, ok := strings.Cut(v, "="); ok {
			c.GoVariants[name] = []string{bin, "start-foreground"}
			c.Impls = append(c.Impls, name)
		}
	}
	if s := os.Getenv("ZKBENCH_PERF_IMPLS"); s != "" {
		c.Impls = strings.Split(s, ",")
	}
	applyLoadKnobs(t, &c)
	out := outDir("before-after")
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()
	rep := compareAndWrite(t, ctx, c, out)
	t.Logf("report written to %s\n%s", out, rep.Markdown())
}

// applyLoadKnobs sets the repetitions, clients and duration the
// ZKBENCH_PERF_REPS, _CLIENTS and _DURATION variables ask for.
func applyLoadKnobs(t *testing.T, c *Config) {
	t.Helper()
	if n := envInts(t, "ZKBENCH_PERF_REPS"); len(n) == 1 {
		c.Reps = n[0]
	}
	if n := envInts(t, "ZKBENCH_PERF_CLIENTS"); len(n) == 1 {
		c.Clients = n[0]
	}
	if n := envInts(t, "ZKBENCH_PERF_SERVER_CPUS"); len(n) == 1 {
		c.ServerCPUs = n[0]
	}
	if d := os.Getenv("ZKBENCH_PERF_DURATION"); d != "" {
		var err error
		if c.Duration, err = time.ParseDuration(d); err != nil {
			t.Fatalf("ZKBENCH_PERF_DURATION: %v", err)
		}
	}
}

// outDir is ZKBENCH_PERF_OUT, or ../out/bench-compare/<sub>.
func outDir(sub string) string {
	if out := os.Getenv("ZKBENCH_PERF_OUT"); out != "" {
		return out
	}
	return filepath.Join("..", "out", "bench-compare", sub)
}

// compareAndWrite runs the comparison and writes its report to out, also
// when the comparison failed part-way.
func compareAndWrite(t *testing.T, ctx context.Context, c Config, out string) *Report {
	t.Helper()
	rep, err := Compare(ctx, c)
	if rep != nil && rep.Build.Revision == "" {
		// A test binary carries no VCS stamp; the servers measured were
		// built from this working tree.
		rep.Build.Revision, rep.Build.Modified = gitRevision()
	}
	if rep != nil {
		if werr := rep.WriteFiles(out); werr != nil {
			t.Error(werr)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// gitRevision is the working tree's HEAD and whether it has uncommitted
// changes; "" when git cannot tell.
func gitRevision() (string, bool) {
	rev, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "", false
	}
	status, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	return strings.TrimSpace(string(rev)), len(strings.TrimSpace(string(status))) > 0
}
