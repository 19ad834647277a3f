package trend

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/montanaflynn/stats"

	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/results/changepoint"
	"github.com/zkbench/zkbench/results/report"
)

// Metric names.
const (
	Throughput = "throughput"
	P50        = "p50 latency"
	P99        = "p99 latency"
)

// metricDef says how to read a metric from a result.
type metricDef struct {
	name, unit     string
	higherIsBetter bool
	gates          bool
	value          func(r *results.Result) (float64, bool)
}

var metrics = []metricDef{
	{Throughput, "ops/s", true, true, func(r *results.Result) (float64, bool) {
		s := results.Summarize(r)
		if r.Measured <= 0 {
			return 0, false
		}
		return float64(s.Ops) / r.Measured.Seconds(), true
	}},
	{P50, "ms", false, false, func(r *results.Result) (float64, bool) {
		l := results.Summarize(r).All
		return float64(l.P50) / 1e6, l.Count > 0
	}},
	{P99, "ms", false, false, func(r *results.Result) (float64, bool) {
		l := results.Summarize(r).All
		return float64(l.P99) / 1e6, l.Count > 0
	}},
}

// Options tune Analyze. The zero value uses the defaults.
type Options struct {
	// Threshold is the smallest relative step for the worse that is a
	// regression (default 0.05).
	Threshold float64
	// ChangePoint tunes the change-point search; its Rand is ignored
	// (each series' search is seeded with Seed, so that a series gets
	// the same answer whatever else is analysed with it).
	ChangePoint changepoint.Options
	// Seed seeds the permutation tests (default 1).
	Seed uint64
}

// Point is one commit of a series.
type Point struct {
	// Revision is the commit ("" for results that record none: each is
	// a point of its own).
	Revision string `json:"revision"`
	// Time is the start of the commit's first run.
	Time time.Time `json:"time"`
	// Runs counts the results pooled into the point.
	Runs int `json:"runs"`
	// Values holds each metric's median over the runs, by metric name.
	Values map[string]float64 `json:"values"`
}

// Change is a change point of a metric.
type Change struct {
	changepoint.ChangePoint
	// Metric is the metric's name.
	Metric string `json:"metric"`
	// Revision is the first commit after the change.
	Revision string `json:"revision"`
	// Worse says the metric got worse, by at least the threshold, and
	// Gates that the metric decides whether a history regressed.
	Worse bool `json:"worse"`
	Gates bool `json:"gates"`
}

// MetricSeries is one metric over a series' points.
type MetricSeries struct {
	Name           string   `json:"name"`
	Unit           string   `json:"unit"`
	HigherIsBetter bool     `json:"higher_is_better"`
	Gates          bool     `json:"gates"`
	Changes        []Change `json:"changes"`
}

// Series is the history of one workload on one kind of machine.
type Series struct {
	// Key names the workload and the machine; Title says it for people.
	Key   string `json:"key"`
	Title string `json:"title"`
	// Points are the commits, oldest first.
	Points  []Point        `json:"points"`
	Metrics []MetricSeries `json:"metrics"`
}

// Metric returns the series' metric of that name, or nil.
func (s *Series) Metric(name string) *MetricSeries {
	for i := range s.Metrics {
		if s.Metrics[i].Name == name {
			return &s.Metrics[i]
		}
	}
	return nil
}

// Regressions returns the changes for the worse of gating metrics among
// the last recent points: what a CI should fail on. Older ones were
// reported when they were recent.
func (s *Series) Regressions(recent int) []Change {
	var out []Change
	for _, m := range s.Metrics {
		for _, c := range m.Changes {
			if c.Gates && c.Worse && c.Index >= len(s.Points)-recent {
				out = append(out, c)
			}
		}
	}
	return out
}

// Values returns metric name's value at every point.
func (s *Series) Values(name string) []float64 {
	out := make([]float64, len(s.Points))
	for i, p := range s.Points {
		out[i] = p.Values[name]
	}
	return out
}

// Analyze groups rs into series and finds each metric's change points.
// Series come in the order of their keys.
func Analyze(rs []*results.Result, o Options) []Series {
	if o.Threshold <= 0 {
		o.Threshold = 0.05
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	groups := map[string][]*results.Result{}
	for _, r := range rs {
		k := key(r)
		groups[k] = append(groups[k], r)
	}
	var out []Series
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		g := groups[k]
		s := Series{Key: k, Title: title(g[0]), Points: points(g)}
		for _, m := range metrics {
			ms := MetricSeries{Name: m.name, Unit: m.unit, HigherIsBetter: m.higherIsBetter, Gates: m.gates}
			if !allHave(s.Points, m.name) {
				continue
			}
			co := o.ChangePoint
			co.Rand = rand.New(rand.NewPCG(o.Seed, 0))
			for _, c := range changepoint.EDivisive(s.Values(m.name), co) {
				worse := (c.Change < 0) == m.higherIsBetter && math.Abs(c.Change) >= o.Threshold
				ms.Changes = append(ms.Changes, Change{ChangePoint: c, Metric: m.name, Revision: s.Points[c.Index].Revision, Worse: worse, Gates: m.gates})
			}
			s.Metrics = append(s.Metrics, ms)
		}
		out = append(out, s)
	}
	return out
}

// key is what a series has in common: the workload (as regress compares
// it) and the kind of machine.
func key(r *results.Result) string {
	m := r.Machine
	return fmt.Sprintf("%s machine=%s/%s/%dcores/%s", report.WorkloadKey(r), m.OS, m.Arch, m.Cores, m.CPUModel)
}

// title describes a series for people.
func title(r *results.Result) string {
	s := r.Spec
	t := fmt.Sprintf("%s, %d server(s), %g%% reads, %d clients x %d", r.Ensemble.Implementation, r.Ensemble.Size, s.ReadPercent, s.Clients, s.Outstanding)
	if r.Machine.Cores > 0 {
		t += fmt.Sprintf(", %d cores", r.Machine.Cores)
	}
	return t
}

// points pools a group's results by revision, in the order of each
// revision's first run.
func points(g []*results.Result) []Point {
	type acc struct {
		p    Point
		vals map[string][]float64
	}
	byRev := map[string]*acc{}
	var all []*acc
	for i, r := range g {
		rev := r.Build.Revision
		id := rev
		if id == "" {
			id = fmt.Sprintf("#%d", i)
		}
		a := byRev[id]
		if a == nil {
			a = &acc{p: Point{Revision: rev, Time: r.Start}, vals: map[string][]float64{}}
			byRev[id] = a
			all = append(all, a)
		}
		a.p.Runs++
		if r.Start.Before(a.p.Time) {
			a.p.Time = r.Start
		}
		for _, m := range metrics {
			if v, ok := m.value(r); ok {
				a.vals[m.name] = append(a.vals[m.name], v)
			}
		}
	}
	slices.SortStableFunc(all, func(a, b *acc) int {
		return cmp.Or(a.p.Time.Compare(b.p.Time), cmp.Compare(a.p.Revision, b.p.Revision))
	})
	out := make([]Point, len(all))
	for i, a := range all {
		a.p.Values = map[string]float64{}
		for name, vs := range a.vals {
			a.p.Values[name], _ = stats.Median(vs)
		}
		out[i] = a.p
	}
	return out
}

func allHave(ps []Point, name string) bool {
	for _, p := range ps {
		if _, ok := p.Values[name]; !ok {
			return false
		}
	}
	return len(ps) > 0
}
