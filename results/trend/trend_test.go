package trend

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/synth"
	"github.com/zkbench/zkbench/results"
)

// history makes n commits' results of one workload, with throughput
// level(i) and 3 % noise between runs, runs results per commit.
func history(n, runs int, level func(i int) float64, seed uint64, o synth.Options) []*results.Result {
	rng := rand.New(rand.NewPCG(seed, 11))
	var rs []*results.Result
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		for k := range runs {
			o.Throughput = level(i) * (1 + 0.03*rng.NormFloat64())
			o.Duration = 3 * time.Second
			o.Seed = uint64(i*10 + k)
			o.Start = start.Add(time.Duration(i)*time.Hour + time.Duration(k)*time.Minute)
			r := synth.Result(o)
			r.Build.Revision = fmt.Sprintf("%040x", 1000+i)
			rs = append(rs, r)
		}
	}
	return rs
}

func TestAnalyzeFindsAStep(t *testing.T) {
	rs := history(30, 2, func(i int) float64 {
		if i >= 18 {
			return 9000
		}
		return 10000
	}, 1, synth.Options{ReadPercent: 70})
	// Shuffle the input: order comes from the commits' times.
	rand.New(rand.NewPCG(2, 2)).Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
	ss := Analyze(rs, Options{})
	if len(ss) != 1 {
		t.Fatalf("%d series, want 1", len(ss))
	}
	s := ss[0]
	if len(s.Points) != 30 || s.Points[0].Runs != 2 || s.Points[0].Revision != fmt.Sprintf("%040x", 1000) {
		t.Fatalf("points: %d, first %+v", len(s.Points), s.Points[0])
	}
	tp := s.Metric(Throughput)
	if tp == nil || len(tp.Changes) != 1 {
		t.Fatalf("throughput changes: %+v", tp)
	}
	c := tp.Changes[0]
	if c.Index != 18 || c.Revision != fmt.Sprintf("%040x", 1018) || !c.Worse || c.Change > -0.08 || c.Change < -0.12 {
		t.Errorf("change %+v, want a worse step of about -10%% at commit 18", c)
	}
	if got := s.Regressions(12); len(got) != 1 || got[0].Metric != Throughput {
		t.Errorf("regressions within the last 12 commits: %+v", got)
	}
	if got := s.Regressions(11); len(got) != 0 {
		t.Errorf("regressions within the last 11 commits (the step is 12 back): %+v", got)
	}
}

func TestAnalyzeGroupsWorkloads(t *testing.T) {
	flat := func(int) float64 { return 10000 }
	a := history(12, 1, flat, 1, synth.Options{ReadPercent: 70})
	b := history(12, 1, flat, 2, synth.Options{ReadPercent: 0, Servers: 5})
	ss := Analyze(append(a, b...), Options{})
	if len(ss) != 2 {
		t.Fatalf("%d series, want 2 (two workloads)", len(ss))
	}
	for _, s := range ss {
		if len(s.Points) != 12 {
			t.Errorf("%s: %d points", s.Key, len(s.Points))
		}
		for _, m := range s.Metrics {
			if len(m.Changes) != 0 {
				t.Errorf("%s %s: changes in a flat series: %+v", s.Key, m.Name, m.Changes)
			}
		}
	}
}

// TestImprovementIsNoRegression: a step for the better is a change point
// but not a regression, and a worse step within the threshold is neither.
func TestImprovementIsNoRegression(t *testing.T) {
	up := history(30, 1, func(i int) float64 {
		if i >= 15 {
			return 12000
		}
		return 10000
	}, 3, synth.Options{ReadPercent: 70})
	s := Analyze(up, Options{})[0]
	tp := s.Metric(Throughput)
	if len(tp.Changes) != 1 || tp.Changes[0].Worse {
		t.Errorf("a 20%% improvement: %+v", tp.Changes)
	}
	if r := s.Regressions(30); len(r) != 0 {
		t.Errorf("regressions: %+v", r)
	}
	small := Analyze(history(30, 1, func(i int) float64 {
		if i >= 15 {
			return 9700
		}
		return 10000
	}, 4, synth.Options{ReadPercent: 70}), Options{Threshold: 0.05})[0]
	if r := small.Regressions(30); len(r) != 0 {
		t.Errorf("a 3%% drop with a 5%% threshold: %+v", r)
	}
}
