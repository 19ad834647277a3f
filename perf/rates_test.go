package perf

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/zkbin"
	"github.com/zkbench/zkbench/results"
)

func TestParseRates(t *testing.T) {
	rs, err := ParseRates("50%, 90%,5000")
	if err != nil {
		t.Fatal(err)
	}
	want := []Rate{{Fraction: 0.5}, {Fraction: 0.9}, {PerSecond: 5000}}
	if len(rs) != len(want) {
		t.Fatalf("rates %+v, want %+v", rs, want)
	}
	for i := range want {
		if rs[i] != want[i] {
			t.Errorf("rate %d: %+v, want %+v", i, rs[i], want[i])
		}
	}
	if rs[0].String() != "50%" || rs[2].String() != "5000 ops/s" {
		t.Errorf("labels %q, %q", rs[0], rs[2])
	}
	for _, bad := range []string{"fast", "0", "-5%", "150%", "0%"} {
		if _, err := ParseRates(bad); err == nil {
			t.Errorf("ParseRates(%q) accepted", bad)
		}
	}
}

// TestOfferedFollowsJavaSaturation: a fraction is of Java's median
// closed-loop throughput at the same point; an absolute rate is itself.
func TestOfferedFollowsJavaSaturation(t *testing.T) {
	r := &Report{Config: ReportConfig{Sizes: []int{3}, ReadPercents: []float64{70}, Reps: 3}}
	for rep, tput := range []float64{6000, 8000, 7000} {
		r.Samples = append(r.Samples,
			Sample{Impl: harness.ImplJava, Size: 3, ReadPercent: 70, Rep: rep + 1, Throughput: tput},
			Sample{Impl: harness.ImplGo, Size: 3, ReadPercent: 70, Rep: rep + 1, Throughput: 3 * tput})
	}
	if got, err := r.offered(Rate{Fraction: 0.5}, 3, 70); err != nil || got != 3500 {
		t.Errorf("50%% of Java's median 7000: %v, %v", got, err)
	}
	if got, err := r.offered(Rate{PerSecond: 1234}, 3, 70); err != nil || got != 1234 {
		t.Errorf("absolute 1234: %v, %v", got, err)
	}
	if _, err := r.offered(Rate{Fraction: 0.5}, 7, 70); err == nil || !strings.Contains(err.Error(), "no Java") {
		t.Errorf("fraction without Java's saturation at the point: %v", err)
	}
}

// TestRatePointsPairRepetitions: open-loop samples form the fixed-rate
// table (Go/Java p99 and p99.9 per repetition) and stay out of the
// closed-loop points.
func TestRatePointsPairRepetitions(t *testing.T) {
	r := &Report{Config: ReportConfig{Sizes: []int{1}, ReadPercents: []float64{70}, Reps: 2, Rates: []Rate{{Fraction: 0.5}}}}
	add := func(impl string, rep int, rate float64, p99, p999 time.Duration) {
		s := Sample{Impl: impl, Size: 1, ReadPercent: 70, Rep: rep, Throughput: rate, P50: p99 / 4, P99: p99, P999: p999}
		if rate < 10000 {
			s.Rate, s.RateLabel = rate, "50%"
		}
		r.Samples = append(r.Samples, s)
	}
	add(harness.ImplJava, 1, 10000, 8*time.Millisecond, 20*time.Millisecond) // closed loop
	add(harness.ImplGo, 1, 30000, 2*time.Millisecond, 5*time.Millisecond)
	add(harness.ImplJava, 2, 10000, 8*time.Millisecond, 20*time.Millisecond)
	add(harness.ImplGo, 2, 30000, 2*time.Millisecond, 5*time.Millisecond)
	add(harness.ImplGo, 1, 5000, time.Millisecond, 4*time.Millisecond)
	add(harness.ImplJava, 1, 5000, 4*time.Millisecond, 10*time.Millisecond)
	add(harness.ImplGo, 2, 5000, 3*time.Millisecond, 6*time.Millisecond)
	add(harness.ImplJava, 2, 5000, 4*time.Millisecond, 10*time.Millisecond)

	if pts := r.Points(); len(pts) != 1 || pts[0].Go.Median != 30000 || pts[0].Ratio.Median != 3 {
		t.Fatalf("closed-loop points %+v: open-loop samples leaked in", pts)
	}
	rps := r.RatePoints()
	if len(rps) != 1 {
		t.Fatalf("%d rate points, want 1", len(rps))
	}
	p := rps[0]
	if p.Offered != 5000 || p.Rate != "50%" {
		t.Errorf("offered %v (%s), want 5000 (50%%)", p.Offered, p.Rate)
	}
	if p.P99Ratio.N != 2 || p.P99Ratio.Min != 0.25 || p.P99Ratio.Max != 0.75 {
		t.Errorf("p99 Go/Java %+v, want 0.25 and 0.75", p.P99Ratio)
	}
	if p.P999Ratio.Median != 0.5 {
		t.Errorf("p99.9 Go/Java %+v, want median 0.5", p.P999Ratio)
	}
	if v := p.Judge(); v != Met {
		t.Errorf("p99 0.5 and p99.9 0.5 of Java: %v, want the target met", v)
	}
	md := r.Markdown()
	for _, want := range []string{"## Latency at a fixed offered rate", "| 1 | 70 % | 50% | 5000 |", "0.50 (0.25–0.75)"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestWarmupFigures: automatic warm-ups are summarised per implementation
// and loop, and a run that never steadied is counted loudly.
func TestWarmupFigures(t *testing.T) {
	r := &Report{Config: ReportConfig{Sizes: []int{1}, ReadPercents: []float64{70}, Reps: 2, Impls: []string{harness.ImplGo, harness.ImplJava}, WarmupMax: 30 * time.Second}}
	add := func(impl string, rate float64, took time.Duration, settled bool) {
		r.Samples = append(r.Samples, Sample{Impl: impl, Size: 1, ReadPercent: 70, Rep: len(r.Samples) + 1, Rate: rate,
			Warmup: &results.Warmup{Took: took, Settled: settled, Rule: "the rule"}})
	}
	add(harness.ImplGo, 0, 3*time.Second, true)
	add(harness.ImplJava, 0, 9*time.Second, true)
	add(harness.ImplJava, 0, 30*time.Second, false)
	add(harness.ImplJava, 5000, 3*time.Second, true)
	figs := r.WarmupFigures()
	if len(figs) != 3 {
		t.Fatalf("figures %+v, want go closed, java closed, java open", figs)
	}
	if j := figs[1]; j.Impl != harness.ImplJava || j.Loop != "closed" || j.Runs != 2 || j.Unsettled != 1 || j.Seconds.Max != 30 {
		t.Errorf("java closed loop: %+v", j)
	}
	md := r.Markdown()
	for _, want := range []string{"## Warm-up until steady", "Each run warmed up until steady: the rule; at most 30s.", "| java | closed | 19.5 (9.0–30.0) | **1 of 2** |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if w := warmupNote(r.Samples[2].Warmup); !strings.Contains(w, "WARNING: warm-up never steady") {
		t.Errorf("log note of an unsettled warm-up: %q", w)
	}
}

// TestCompareRatesSmoke runs the fixed-rate points end to end at their
// smallest: one standalone Go and one Java server, closed loop, then open
// loop at half Java's measured saturation, every warm-up automatic.
func TestCompareRatesSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped with -short")
	}
	bins := build(t, zkbin.ZkserverPkg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var log strings.Builder
	rep, err := Compare(ctx, Config{
		Sizes: []int{1}, ReadPercents: []float64{70}, Reps: 1,
		Impls:   []string{harness.ImplGo, harness.ImplJava},
		Clients: 4, Outstanding: 1, Keys: 50,
		WarmupMax: 6 * time.Second, Duration: time.Second,
		Rates:     []Rate{{Fraction: 0.5}},
		GoCommand: []string{bins[0], "start-foreground"},
		Log:       &log,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(rep.Samples) != 4 {
		t.Fatalf("%d samples, want go and java closed, then open: %+v", len(rep.Samples), rep.Samples)
	}
	var java float64
	for _, s := range rep.Samples[:2] {
		if s.Impl == harness.ImplJava {
			java = s.Throughput
		}
	}
	for _, s := range rep.Samples {
		if s.Warmup == nil || s.Warmup.Took < 3*time.Second || s.Warmup.Took > 7*time.Second {
			t.Errorf("%s rate %v: warm-up %+v, want an automatic one of 3-7 s", s.Impl, s.Rate, s.Warmup)
		}
		if s.Ops == 0 || s.P999 < s.P99 || s.P99 <= 0 {
			t.Errorf("%s rate %v: %d ops, p99 %v, p99.9 %v", s.Impl, s.Rate, s.Ops, s.P99, s.P999)
		}
	}
	for _, s := range rep.Samples[2:] {
		if s.RateLabel != "50%" || s.Rate != java/2 {
			t.Errorf("%s open loop at %s = %v ops/s, want 50%% of Java's %v", s.Impl, s.RateLabel, s.Rate, java)
		}
		// The fixed-rate ensemble ran the closed loop until steady first:
		// an open loop offered to a cold Java builds a backlog it then
		// carries into the measured part.
		if s.Prewarm == nil || s.Prewarm.Took < 3*time.Second {
			t.Errorf("%s open loop: pre-warm %+v, want the closed loop's automatic warm-up first", s.Impl, s.Prewarm)
		}
		if s.Throughput > 1.2*s.Rate {
			t.Errorf("%s: achieved %.0f ops/s above the offered %.0f", s.Impl, s.Throughput, s.Rate)
		}
	}
	if len(rep.Memory) != 2 || len(rep.Startups) != 2 {
		t.Errorf("memory %d and start-up %d records, want one per implementation (the open-loop ensembles add none)", len(rep.Memory), len(rep.Startups))
	}
	pts := rep.RatePoints()
	if len(pts) != 1 || pts[0].P99Ratio.N != 1 {
		t.Fatalf("rate points %+v, want one with a Go/Java p99 ratio", pts)
	}
	t.Logf("at %.0f ops/s: p99 Go %.2f ms, Java %.2f ms; p99.9 Go %.2f, Java %.2f\n%s", pts[0].Offered,
		pts[0].GoP99.Median, pts[0].JavaP99.Median, pts[0].GoP999.Median, pts[0].JavaP999.Median, log.String())
}
