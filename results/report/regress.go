package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/montanaflynn/stats"
	"golang.org/x/perf/benchmath"

	"github.com/zkbench/zkbench/results"
)

// ErrMismatch is returned by Regress when the baseline measured something
// else (another workload, ensemble size or implementation).
var ErrMismatch = errors.New("report: baseline measured a different workload")

// RegressOptions tune a regression check. The zero value uses the defaults.
type RegressOptions struct {
	// Threshold is the smallest relative change that counts (default 0.10).
	Threshold float64 `json:"threshold"`
	// Alpha is the significance level (default 0.05).
	Alpha float64 `json:"alpha"`
	// Bucket is the width of one throughput sample (default 1 s): the
	// series' 100 ms intervals are summed into buckets this wide, which
	// makes neighbouring samples less dependent on each other.
	Bucket time.Duration `json:"bucket_ns"`
}

func (o RegressOptions) withDefaults() RegressOptions {
	if o.Threshold <= 0 {
		o.Threshold = 0.10
	}
	if o.Alpha <= 0 {
		o.Alpha = 0.05
	}
	if o.Bucket <= 0 {
		o.Bucket = time.Second
	}
	return o
}

// Metric is one row of a regression table.
type Metric struct {
	// Name and Unit of the metric ("throughput", "ops/s").
	Name string `json:"name"`
	Unit string `json:"unit"`
	// HigherIsBetter says which direction is an improvement.
	HigherIsBetter bool `json:"higher_is_better"`
	// Base and New are the samples' medians; BaseSpread and NewSpread
	// their median absolute deviations relative to the medians.
	Base       float64 `json:"base"`
	New        float64 `json:"new"`
	BaseSpread float64 `json:"base_spread"`
	NewSpread  float64 `json:"new_spread"`
	// N counts the samples.
	BaseN int `json:"base_n"`
	NewN  int `json:"new_n"`
	// Delta is (New-Base)/Base.
	Delta float64 `json:"delta"`
	// BaseCI and NewCI are the medians with their 95 % confidence
	// intervals.
	BaseCI CI `json:"base_ci"`
	NewCI  CI `json:"new_ci"`
	// P is the two-sided Mann-Whitney U p-value.
	P float64 `json:"p"`
	// BaseRunSpread is (max-min)/median of the baseline's per-run
	// medians, when it has several runs.
	BaseRunSpread float64 `json:"base_run_spread,omitempty"`
	// Significant is P < Alpha. Beyond is |Delta| >= Threshold for one
	// baseline run; for several, New must also lie beyond the threshold
	// from the baseline's worst run (for a change for the worse) or best
	// run (for the better).
	Significant bool `json:"significant"`
	Beyond      bool `json:"beyond"`
	// Gates says whether this metric decides the verdict.
	Gates bool `json:"gates"`
}

// Worse reports whether the metric got significantly worse by more than the
// threshold.
func (m Metric) Worse() bool {
	if !m.Significant || !m.Beyond {
		return false
	}
	return (m.Delta < 0) == m.HigherIsBetter
}

// Regression is the outcome of comparing a result with a baseline.
type Regression struct {
	Options RegressOptions `json:"options"`
	// BaseRuns and NewRuns count the runs pooled on each side.
	BaseRuns int      `json:"base_runs"`
	NewRuns  int      `json:"new_runs"`
	Metrics  []Metric `json:"metrics"`
}

// MarshalJSON writes the regression with, for each metric, whether it got
// worse, and the verdict ("regressed").
func (g Regression) MarshalJSON() ([]byte, error) {
	type metric struct {
		Metric
		Worse bool `json:"worse"`
	}
	type regression Regression
	out := struct {
		regression
		Metrics   []metric `json:"metrics"`
		Regressed bool     `json:"regressed"`
	}{regression: regression(g), Regressed: g.Regressed()}
	for _, m := range g.Metrics {
		out.Metrics = append(out.Metrics, metric{m, m.Worse()})
	}
	return json.Marshal(out)
}

// Regressed reports whether a gating metric got worse significantly and
// beyond the threshold.
func (g Regression) Regressed() bool {
	for _, m := range g.Metrics {
		if m.Gates && m.Worse() {
			return true
		}
	}
	return false
}

// Regress compares cur with base. Throughput (per-bucket samples) gates the
// verdict; p50 and p99 latency per second (from the per-interval
// histograms, when both results have them) are reported beside it.
func Regress(base, cur *results.Result, o RegressOptions) (Regression, error) {
	return RegressRuns([]*results.Result{base}, []*results.Result{cur}, o)
}

// RegressRuns compares several runs of a workload with several baseline
// runs of it, pooling each side's samples. On a noisy machine one run
// varies from the next by more than its intervals vary among themselves;
// pooling runs puts that variation into both samples, where the test sees
// it.
func RegressRuns(base, cur []*results.Result, o RegressOptions) (Regression, error) {
	o = o.withDefaults()
	if len(base) == 0 || len(cur) == 0 {
		return Regression{}, fmt.Errorf("report: regress: need at least one baseline and one new result, have %d and %d", len(base), len(cur))
	}
	for _, r := range append(base[1:], cur...) {
		if err := SameWorkload(base[0], r); err != nil {
			return Regression{}, err
		}
	}
	var bt, ct, b50, c50, bl, cl []float64
	var btRuns, b50Runs, blRuns []float64 // per-run medians of the baseline
	med := func(runs *[]float64, xs []float64) {
		if m, err := stats.Median(xs); err == nil {
			*runs = append(*runs, m)
		}
	}
	for _, r := range base {
		s, p50, p99 := Samples(r, o.Bucket), quantiles(r, 50), quantiles(r, 99)
		bt, b50, bl = append(bt, s...), append(b50, p50...), append(bl, p99...)
		med(&btRuns, s)
		med(&b50Runs, p50)
		med(&blRuns, p99)
	}
	for _, r := range cur {
		ct = append(ct, Samples(r, o.Bucket)...)
		c50 = append(c50, quantiles(r, 50)...)
		cl = append(cl, quantiles(r, 99)...)
	}
	if len(bt) < 3 || len(ct) < 3 {
		return Regression{}, fmt.Errorf("report: regress: need at least 3 samples of %v on each side, have %d (baseline) and %d: run longer", o.Bucket, len(bt), len(ct))
	}
	g := Regression{Options: o, BaseRuns: len(base), NewRuns: len(cur)}
	g.Metrics = append(g.Metrics, metric("throughput", "ops/s", true, true, bt, ct, btRuns, o))
	if len(b50) >= 3 && len(c50) >= 3 {
		g.Metrics = append(g.Metrics, metric("p50 latency", "ms", false, false, b50, c50, b50Runs, o))
	}
	if len(bl) >= 3 && len(cl) >= 3 {
		g.Metrics = append(g.Metrics, metric("p99 latency", "ms", false, false, bl, cl, blRuns, o))
	}
	return g, nil
}

// metric compares samples b (baseline) and c. runs are the medians of the
// baseline's runs: with several, a change must clear the threshold from the
// worst of them (the slowest run for throughput), not just from their
// pooled median, so that the baseline's own run-to-run spread is not taken
// for a change.
func metric(name, unit string, higher, gates bool, b, c, runs []float64, o RegressOptions) Metric {
	bm, _ := stats.Median(b)
	cm, _ := stats.Median(c)
	m := Metric{Name: name, Unit: unit, HigherIsBetter: higher, Gates: gates, Base: bm, New: cm, BaseN: len(b), NewN: len(c)}
	if bm != 0 {
		m.Delta = (cm - bm) / bm
		bd, _ := stats.MedianAbsoluteDeviationPopulation(b)
		m.BaseSpread = bd / bm
	}
	if cm != 0 {
		cd, _ := stats.MedianAbsoluteDeviationPopulation(c)
		m.NewSpread = cd / cm
	}
	m.BaseCI, m.NewCI = MedianCI(b, ciConfidence), MedianCI(c, ciConfidence)
	m.P = MannWhitney(b, c)
	m.Significant = m.P < o.Alpha
	m.Beyond = math.Abs(m.Delta) >= o.Threshold
	if len(runs) > 1 {
		lo, _ := stats.Min(runs)
		hi, _ := stats.Max(runs)
		m.BaseRunSpread = (hi - lo) / bm
		worse, better := lo, hi // the worst and best baseline run
		if !higher {
			worse, better = hi, lo
		}
		if (m.Delta < 0) == higher { // a change for the worse
			m.Beyond = worse != 0 && math.Abs(cm-worse)/worse >= o.Threshold && (cm-worse)*(cm-bm) > 0
		} else {
			m.Beyond = better != 0 && math.Abs(cm-better)/better >= o.Threshold && (cm-better)*(cm-bm) > 0
		}
	}
	return m
}

// SameWorkload returns an error wrapping ErrMismatch, naming every field
// that differs, unless base and cur ran the same workload (seed and
// duration may differ) on the same implementation and ensemble size.
func SameWorkload(base, cur *results.Result) error {
	var diffs []string
	bf, cf := workloadFields(base), workloadFields(cur)
	for i := range bf {
		if bf[i].value != cf[i].value {
			diffs = append(diffs, fmt.Sprintf("%s %s (baseline) vs %s", bf[i].name, bf[i].value, cf[i].value))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w: %s; compare results of the same workload (or use zkbench compare)", ErrMismatch, strings.Join(diffs, ", "))
	}
	return nil
}

// WorkloadKey names what r measured, by the fields SameWorkload compares:
// two results have the same key exactly when SameWorkload accepts them.
func WorkloadKey(r *results.Result) string {
	var b strings.Builder
	for i, f := range workloadFields(r) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", f.name, f.value)
	}
	return b.String()
}

type field struct{ name, value string }

// workloadFields are the fields of a result that make its workload: the
// same in every result SameWorkload accepts as comparable.
func workloadFields(r *results.Result) []field {
	s, c := r.Spec, r.Ensemble.Config
	return []field{
		{"implementation", fmt.Sprint(r.Ensemble.Implementation)},
		{"servers", fmt.Sprint(r.Ensemble.Size)},
		{"read_percent", fmt.Sprint(s.ReadPercent)},
		{"mix", fmt.Sprint(s.EffectiveMix())},
		{"value_size", fmt.Sprint(s.ValueSize)},
		{"keys", fmt.Sprint(s.Keys)},
		{"clients", fmt.Sprint(s.Clients)},
		{"outstanding", fmt.Sprint(s.Outstanding)},
		{"mode", fmt.Sprint(s.Mode)},
		{"rate", fmt.Sprint(s.Rate)},
		{"key_dist", fmt.Sprint(s.KeyDist)},
		{"faults", c["faults"]},
		{"leaderServes", c["leaderServes"]},
		{"peer_proxy", c["peer_proxy"]},
		{"client_proxy", c["client_proxy"]},
		{"server_cpus", c["server_cpus"]},
	}
}

// Samples returns r's throughput (ops/s) in consecutive buckets of width b,
// dropping a last bucket shorter than b.
func Samples(r *results.Result, b time.Duration) []float64 {
	var out []float64
	var n int64
	var length time.Duration
	for _, iv := range r.Series {
		n += iv.Ops
		length += iv.Len
		if length >= b {
			out = append(out, float64(n)/length.Seconds())
			n, length = 0, 0
		}
	}
	return out
}

// quantiles returns the q-th percentile latency (ms) of each of r's
// per-interval histograms (one a second by default).
func quantiles(r *results.Result, q float64) []float64 {
	var out []float64
	for _, h := range r.IntervalLatency {
		if h.TotalCount() > 0 {
			out = append(out, float64(h.ValueAtQuantile(q))/1e6)
		}
	}
	return out
}

// ciConfidence is the confidence of the medians' intervals.
const ciConfidence = 0.95

// MannWhitney returns the two-sided p-value of the Mann-Whitney U test of
// samples a and b, as benchstat computes it (golang.org/x/perf's
// benchmath): from the exact distribution of U when each sample has at
// most 50 values (25 with ties), from the normal approximation with tie
// correction above that; 1 when either sample is empty or every value is
// equal.
func MannWhitney(a, b []float64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 1
	}
	th := benchmath.DefaultThresholds
	c := benchmath.AssumeNothing.Compare(benchmath.NewSample(slices.Clone(a), &th), benchmath.NewSample(slices.Clone(b), &th))
	if math.IsNaN(c.P) {
		return 1
	}
	return c.P
}

// CI is a sample's median and a distribution-free confidence interval
// for it, between two order statistics.
type CI struct {
	Median float64 `json:"median"`
	// Lo and Hi bound the interval; -Inf and +Inf when the sample is too
	// small for one at the asked confidence (fewer than 6 values at 95 %).
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
	// Confidence is the interval's actual coverage, at least the one
	// asked for (order statistics move in steps).
	Confidence float64 `json:"confidence"`
}

// MarshalJSON writes an unbounded end of the interval as null, which JSON
// can hold and infinity it cannot.
func (c CI) MarshalJSON() ([]byte, error) {
	finite := func(x float64) *float64 {
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil
		}
		return &x
	}
	return json.Marshal(struct {
		Median     *float64 `json:"median"`
		Lo         *float64 `json:"lo"`
		Hi         *float64 `json:"hi"`
		Confidence float64  `json:"confidence"`
	}{finite(c.Median), finite(c.Lo), finite(c.Hi), c.Confidence})
}

// MedianCI returns the median of xs and its confidence interval at the
// given confidence (0.95 for 95 %), as benchstat does. xs is not changed.
func MedianCI(xs []float64, confidence float64) CI {
	if len(xs) == 0 {
		return CI{Lo: math.Inf(-1), Hi: math.Inf(1)}
	}
	th := benchmath.DefaultThresholds
	s := benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(xs), &th), confidence)
	return CI{Median: s.Center, Lo: s.Lo, Hi: s.Hi, Confidence: s.Confidence}
}

// WriteTable writes the comparison as a benchstat-like table.
func (g Regression) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-14s %22s %22s %10s %10s  %s\n", "metric", "baseline", "new", "delta", "p", "verdict")
	for _, m := range g.Metrics {
		verdict := "~ (no significant change)"
		switch {
		case m.Significant && !m.Beyond:
			verdict = fmt.Sprintf("~ (significant, within %.0f%%)", 100*g.Options.Threshold)
		case m.Worse():
			verdict = "WORSE"
		case m.Significant && m.Beyond:
			verdict = "better"
		}
		if !m.Gates {
			verdict += " [informational]"
		}
		fmt.Fprintf(&b, "%-14s %22s %22s %+9.1f%% %10.3g  %s\n", m.Name,
			fmt.Sprintf("%s ±%.0f%% %s n=%d", num(m.Base), 100*m.BaseSpread, m.Unit, m.BaseN),
			fmt.Sprintf("%s ±%.0f%% n=%d", num(m.New), 100*m.NewSpread, m.NewN),
			100*m.Delta, m.P, verdict)
	}
	for _, m := range g.Metrics {
		fmt.Fprintf(&b, "%s: %.0f%% confidence intervals of the medians: baseline [%s, %s], new [%s, %s]\n",
			m.Name, 100*ciConfidence, num(m.BaseCI.Lo), num(m.BaseCI.Hi), num(m.NewCI.Lo), num(m.NewCI.Hi))
	}
	for _, m := range g.Metrics {
		if m.BaseRunSpread > 0 {
			fmt.Fprintf(&b, "%s: the baseline's runs differ by %.0f%% among themselves; a change must clear the threshold from the worst of them\n", m.Name, 100*m.BaseRunSpread)
		}
	}
	fmt.Fprintf(&b, "(medians ± median absolute deviation; two-sided Mann-Whitney U (exact up to 50 samples a side) over %v samples of %d baseline and %d new runs; alpha %.2g, threshold %.0f%%)\n",
		g.Options.Bucket, g.BaseRuns, g.NewRuns, g.Options.Alpha, 100*g.Options.Threshold)
	_, err := io.WriteString(w, b.String())
	return err
}

func num(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
