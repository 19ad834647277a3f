package report

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/synth"
	"github.com/zkbench/zkbench/results"
)

// TestMannWhitneyExact checks p-values against the exact distribution of
// U at the small sample sizes CI runs have (R's wilcox.test(x, y,
// exact = TRUE) gives the same numbers).
func TestMannWhitneyExact(t *testing.T) {
	seq := func(from, n int) []float64 {
		var xs []float64
		for i := range n {
			xs = append(xs, float64(from+i))
		}
		return xs
	}
	for _, tc := range []struct {
		name string
		a, b []float64
		want float64
	}{
		// Fully separated: two of the C(n1+n2, n1) orderings are as extreme.
		{"3 vs 3 apart", seq(1, 3), seq(4, 3), 2.0 / 20},
		{"5 vs 5 apart", seq(1, 5), seq(6, 5), 2.0 / 252},
		{"10 vs 10 apart", seq(1, 10), seq(11, 10), 2.0 / 184756},
		// Interleaved: U = 10, P(U <= 10) = 0.3452381 under H0, doubled.
		{"interleaved", []float64{1, 3, 5, 7, 9}, []float64{2, 4, 6, 8, 10}, 0.6904762},
		{"all tied", []float64{1, 1, 1}, []float64{1, 1, 1}, 1},
		{"empty", nil, []float64{1, 2}, 1},
	} {
		if p := MannWhitney(tc.a, tc.b); math.Abs(p-tc.want) > 1e-6*tc.want {
			t.Errorf("%s: p = %.8g, want %.8g", tc.name, p, tc.want)
		}
	}
}

// TestMedianCI checks the distribution-free confidence interval of a
// median: for n = 10 at 95 %, the narrowest interval between order
// statistics is [x(2), x(9)], which covers the median with probability
// 1 - 2*(1+10)/1024 = 0.978516.
func TestMedianCI(t *testing.T) {
	xs := []float64{10, 1, 9, 2, 8, 3, 7, 4, 6, 5}
	ci := MedianCI(xs, 0.95)
	if ci.Median != 5.5 || ci.Lo != 2 || ci.Hi != 9 || math.Abs(ci.Confidence-0.978516) > 1e-6 {
		t.Errorf("MedianCI(1..10) = %+v, want median 5.5 in [2, 9] at 0.978516", ci)
	}
	if xs[0] != 10 {
		t.Error("MedianCI sorted its argument")
	}
	if ci := MedianCI([]float64{1, 2}, 0.95); !math.IsInf(ci.Lo, -1) || !math.IsInf(ci.Hi, 1) {
		t.Errorf("two samples: %+v, want an unbounded interval", ci)
	}
}

func run(seed uint64, tp float64) *results.Result {
	return synth.Result(synth.Options{Servers: 3, ReadPercent: 70, Duration: 10 * time.Second, Throughput: tp, Noise: 0.05, Seed: seed})
}

func TestRegressFlagsSlowdownOnly(t *testing.T) {
	base := run(1, 10000)
	same, err := Regress(base, run(2, 10000), RegressOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if same.Regressed() {
		var b bytes.Buffer
		same.WriteTable(&b)
		t.Errorf("same throughput flagged:\n%s", &b)
	}
	slow, err := Regress(base, run(3, 8000), RegressOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slow.Regressed() {
		t.Errorf("20%% slowdown not flagged: %+v", slow.Metrics[0])
	}
	var b bytes.Buffer
	if err := slow.WriteTable(&b); err != nil || !strings.Contains(b.String(), "WORSE") {
		t.Errorf("table lacks WORSE (err %v):\n%s", err, &b)
	}
	// A 5% slowdown is within the 10% threshold even if significant.
	small, _ := Regress(base, run(4, 9500), RegressOptions{})
	if small.Regressed() {
		t.Errorf("5%% slowdown flagged with a 10%% threshold: %+v", small.Metrics[0])
	}
	// A speed-up is never a regression.
	fast, _ := Regress(base, run(5, 13000), RegressOptions{})
	if fast.Regressed() || !fast.Metrics[0].Significant {
		t.Errorf("speed-up: regressed=%v significant=%v", fast.Regressed(), fast.Metrics[0].Significant)
	}
}

func TestRegressRejectsOtherWorkload(t *testing.T) {
	base := run(1, 10000)
	other := run(2, 10000)
	other.Spec.ReadPercent = 0
	other.Ensemble.Size = 5
	_, err := Regress(base, other, RegressOptions{})
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "read_percent 70 (baseline) vs 0") || !strings.Contains(err.Error(), "servers 3 (baseline) vs 5") {
		t.Errorf("err = %v, want ErrMismatch naming read_percent and servers", err)
	}
	// A run whose servers had another CPU share is another setup.
	shared := run(2, 10000)
	if shared.Ensemble.Config == nil {
		shared.Ensemble.Config = map[string]string{}
	}
	shared.Ensemble.Config["server_cpus"] = "1"
	if _, err := Regress(base, shared, RegressOptions{}); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "server_cpus") {
		t.Errorf("other CPU share: err = %v, want ErrMismatch naming server_cpus", err)
	}
	short := run(1, 10000)
	short.Series = short.Series[:15]
	if _, err := Regress(base, short, RegressOptions{}); err == nil || !strings.Contains(err.Error(), "at least 3 samples") {
		t.Errorf("1.5 s result: err = %v", err)
	}
}

func TestCapacity(t *testing.T) {
	mk := func(n int, reads, tp float64, lat time.Duration) *results.Result {
		return synth.Result(synth.Options{Servers: n, ReadPercent: reads, Duration: 2 * time.Second, Throughput: tp, Latency: lat, Seed: uint64(n)})
	}
	rs := []*results.Result{
		mk(3, 0, 20000, time.Millisecond), mk(3, 100, 80000, time.Millisecond),
		mk(5, 0, 15000, time.Millisecond), mk(5, 100, 160000, time.Millisecond),
		mk(7, 0, 12000, 50*time.Millisecond), mk(7, 100, 250000, time.Millisecond),
	}
	plan, err := Capacity(rs, nil, CapacityOptions{P99: 10 * time.Millisecond, Load: 100000, ReadPercent: 100})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Smallest["go"] != 5 {
		t.Errorf("smallest ensemble for 100k reads/s = %d, want 5", plan.Smallest["go"])
	}
	if c, ok := plan.CapacityAt("go", 3, 50); !ok || math.Abs(c-50000)/50000 > 0.05 {
		t.Errorf("3 servers at 50%% reads: %v %v, want ~50k (interpolated)", c, ok)
	}
	if c, _ := plan.cell("go", 7, 0); c.Met() {
		t.Errorf("7 servers at 0%% reads met a 10 ms target with a 50 ms median: %+v", c)
	}
	var md, html bytes.Buffer
	if err := plan.Markdown(&md, []Graph{{Title: "tp", File: "readratio.png"}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"5 servers serve 100k ops/s", "| 3 |", "— (p99", "![tp](readratio.png)"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, &md)
		}
	}
	if err := plan.HTML(&html, []Graph{{Title: "tp", PNG: []byte("\x89PNG fake")}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), `src="data:image/png;base64,iVBORyBmYWtl"`) {
		t.Errorf("HTML does not embed the PNG as a data URI:\n%s", &html)
	}
	if _, err := Capacity(nil, nil, CapacityOptions{}); err == nil {
		t.Error("Capacity(nil): no error")
	}
}

func TestSummaryAndCompare(t *testing.T) {
	a := run(1, 10000)
	a.Events = []results.Event{{At: time.Second, Name: "kill", Detail: "1: kill server 2 (follower)"}}
	var b bytes.Buffer
	if err := Summary(&b, a, []Graph{{Title: "Throughput", File: "throughput.png"}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go, 3 servers, 30% writes", "| getData |", "1: kill server 2", "![Throughput](throughput.png)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, &b)
		}
	}
	java := synth.Result(synth.Options{Impl: "java", Servers: 3, ReadPercent: 70, Throughput: 5000, Seed: 9})
	b.Reset()
	if err := Compare(&b, []Column{{"go", a}, {"java", java}}, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| go | java |") || !strings.Contains(b.String(), "(-50.") {
		t.Errorf("comparison lacks headings or the -50%% throughput change:\n%s", &b)
	}
}

func TestRegressRunsPoolsRuns(t *testing.T) {
	var base []*results.Result
	for i, tp := range []float64{10000, 9000, 11000} {
		base = append(base, run(uint64(10+i), tp))
	}
	g, err := RegressRuns(base, []*results.Result{run(20, 9500), run(21, 10500)}, RegressOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Regressed() || g.BaseRuns != 3 || g.NewRuns != 2 || g.Metrics[0].BaseN != 30 {
		t.Errorf("runs within the baseline's spread: regressed=%v runs %d/%d n=%d", g.Regressed(), g.BaseRuns, g.NewRuns, g.Metrics[0].BaseN)
	}
	g, _ = RegressRuns(base, []*results.Result{run(22, 7000), run(23, 7500)}, RegressOptions{})
	if !g.Regressed() {
		t.Errorf("27%% slower runs not flagged: %+v", g.Metrics[0])
	}
	other := run(24, 10000)
	other.Spec.Clients = 99
	if _, err := RegressRuns(base, []*results.Result{run(25, 10000), other}, RegressOptions{}); !errors.Is(err, ErrMismatch) {
		t.Errorf("a new run of another workload: %v", err)
	}
}

func TestRegressRunsNeedsToClearTheWorstBaselineRun(t *testing.T) {
	// Baseline runs at 10k, 8k and 12k: a new run at 8.5k is 15% below
	// the pooled median but above the slowest baseline run.
	base := []*results.Result{run(30, 10000), run(31, 8000), run(32, 12000)}
	g, err := RegressRuns(base, []*results.Result{run(33, 8500)}, RegressOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Regressed() {
		t.Errorf("a run within the baseline's own spread flagged: %+v", g.Metrics[0])
	}
	if s := g.Metrics[0].BaseRunSpread; s < 0.3 || s > 0.5 {
		t.Errorf("BaseRunSpread = %v, want about 0.4", s)
	}
	g, _ = RegressRuns(base, []*results.Result{run(34, 6500)}, RegressOptions{})
	if !g.Regressed() {
		t.Errorf("a run 19%% below the slowest baseline run not flagged: %+v", g.Metrics[0])
	}
}

func TestFaultSummary(t *testing.T) {
	r := run(1, 10000)
	ev := func(at time.Duration, name, detail string) results.Event {
		return results.Event{At: at, Name: name, Detail: detail}
	}
	r.Events = []results.Event{
		ev(-time.Second, "load", "warm-up starts"),
		ev(2*time.Second, "kill", "3: kill server 7 (leader)"),
		ev(2*time.Second+97*time.Millisecond, "recovered", "3: writes served again after 97ms"),
		ev(2*time.Second+184*time.Millisecond, "elected", "3: server 6 leads after 184ms"),
		ev(4*time.Second, "restart", "3: restart server 7 (down)"),
		ev(5*time.Second, "kill", "4: kill server 5 (follower)"),
		ev(5*time.Second+40*time.Millisecond, "kill", "4: kill server 3 (follower)"),
		ev(5*time.Second+60*time.Millisecond, "recovered", "4: writes served again after 60ms"),
		ev(5*time.Second+75*time.Millisecond, "recovered", "4: writes served again after 35ms"),
	}
	got := strings.Join(FaultSummary(r), "\n")
	want := "event 3 at 2.0s: kill server 7 (leader); new leader after 184ms; writes served again after 97ms\n" +
		"event 4 at 5.0s: kill server 5 (follower), kill server 3 (follower); writes served again after 75ms"
	if got != want {
		t.Errorf("FaultSummary:\n%s\nwant:\n%s", got, want)
	}
}

// TestRegressConfidenceIntervals: each metric carries its medians'
// confidence intervals, and the table prints them.
func TestRegressConfidenceIntervals(t *testing.T) {
	g, err := Regress(run(1, 10000), run(3, 8000), RegressOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := g.Metrics[0]
	for _, c := range []struct {
		name   string
		ci     CI
		median float64
	}{{"baseline", m.BaseCI, m.Base}, {"new", m.NewCI, m.New}} {
		if c.ci.Median != c.median || !(c.ci.Lo < c.median && c.median < c.ci.Hi) || c.ci.Confidence < 0.95 {
			t.Errorf("%s: CI %+v around median %g", c.name, c.ci, c.median)
		}
	}
	if m.NewCI.Hi >= m.BaseCI.Lo {
		t.Errorf("a 20%% drop with 5%% noise: intervals overlap: %+v %+v", m.BaseCI, m.NewCI)
	}
	var b bytes.Buffer
	if err := g.WriteTable(&b); err != nil || !strings.Contains(b.String(), "throughput: 95% confidence intervals of the medians: baseline [") {
		t.Errorf("table lacks the intervals (err %v):\n%s", err, &b)
	}
}
