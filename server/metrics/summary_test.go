package metrics

import (
	"math"
	"math/rand"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// collectSummary is one Collect of s.
func collectSummary(t *testing.T, s *Summary) *dto.Summary {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	s.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.Summary
}

// Quantiles are within 2 % of the exact ones (a bucket is 1/64 of its
// octave wide), over values from microseconds to seconds; count and sum
// are exact.
func TestSummaryQuantiles(t *testing.T) {
	s := newSummary("x", advanced, time.Now)
	rng := rand.New(rand.NewSource(1))
	var vals []float64
	var sum time.Duration
	for range 100000 {
		d := time.Duration(math.Exp(rng.Float64()*math.Log(1e9))) * time.Nanosecond * 10 // 10 ns .. 10 s, log-uniform
		s.Observe(d)
		sum += d
		vals = append(vals, float64(d.Microseconds())/1000)
	}
	slices.Sort(vals)
	got := collectSummary(t, s)
	if got.GetSampleCount() != 100000 || math.Abs(got.GetSampleSum()-float64(sum)/1e6) > 1e-6*got.GetSampleSum() {
		t.Errorf("count %d, sum %v; want 100000, %v", got.GetSampleCount(), got.GetSampleSum(), float64(sum)/1e6)
	}
	if len(got.Quantile) != 3 {
		t.Fatalf("quantiles %v, want 0.5, 0.9, 0.99", got.Quantile)
	}
	for _, q := range got.Quantile {
		exact := vals[int(q.GetQuantile()*float64(len(vals)))]
		if math.Abs(q.GetValue()-exact) > 0.02*exact+0.001 {
			t.Errorf("quantile %v = %v ms, exact %v ms", q.GetQuantile(), q.GetValue(), exact)
		}
	}
}

// Quantiles cover the last maxAge (10 minutes, in five steps) as
// upstream's summaries do; count and sum are cumulative.
func TestSummaryWindow(t *testing.T) {
	now := time.Unix(0, 0)
	s := newSummary("x", basic, func() time.Time { return now })
	for range 100 {
		s.Observe(time.Second)
	}
	if q := collectSummary(t, s).Quantile[0].GetValue(); math.Abs(q-1000) > 20 {
		t.Errorf("median %v ms, want 1000", q)
	}
	for range 6 { // scraped every 2 minutes, a fast sample each time
		now = now.Add(2 * time.Minute)
		s.Observe(time.Millisecond)
		collectSummary(t, s)
	}
	now = now.Add(time.Minute)
	got := collectSummary(t, s)
	if q := got.Quantile[0].GetValue(); math.Abs(q-1) > 0.02 {
		t.Errorf("median %v ms 13 minutes on, want 1 (the 1 s samples aged out)", q)
	}
	if got.GetSampleCount() != 106 {
		t.Errorf("count %d, want 106 (cumulative)", got.GetSampleCount())
	}
	empty := newSummary("y", basic, time.Now)
	if q := collectSummary(t, empty).Quantile[0].GetValue(); !math.IsNaN(q) {
		t.Errorf("empty summary's median %v, want NaN as client_golang's", q)
	}
}

// Observations from many goroutines while scraping are all counted (run
// with -race).
func TestSummaryConcurrent(t *testing.T) {
	s := newSummary("x", advanced, time.Now)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10000 {
				s.Observe(time.Duration(i) * time.Microsecond)
			}
		}()
	}
	for range 10 {
		collectSummary(t, s)
	}
	wg.Wait()
	if n := collectSummary(t, s).GetSampleCount(); n != 40000 {
		t.Errorf("count %d, want 40000", n)
	}
}
