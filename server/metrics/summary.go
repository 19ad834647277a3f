package metrics

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Upstream's Prometheus provider: a summary of DetailLevel.BASIC has the
// median only, one of ADVANCED the median, 0.9 and 0.99 quantiles, over
// the last 10 minutes in 5 steps (simpleclient's defaults).
var (
	basic    = []float64{0.5}
	advanced = []float64{0.5, 0.9, 0.99}
)

const (
	maxAge     = 10 * time.Minute
	ageBuckets = 5

	// A duration in microseconds falls in a bucket: below 64 µs one per
	// microsecond, above 64 per octave, so that a bucket is at most 1/64
	// of its values wide (a quantile's value is within 1 % of the truth).
	subBuckets = 64
	nBuckets   = subBuckets + 58*subBuckets
)

// Summary is one of upstream's summaries, in milliseconds as upstream's.
// Observing is three atomic adds (no lock, no clock: client_golang's
// summary costs ~200 ns an observation, a few percent of a read's CPU);
// the quantiles are computed at each scrape from the buckets' counts
// now and up to maxAge ago. A nil *Summary records nothing, so that a
// server without a provider pays one nil check per event.
type Summary struct {
	count   atomic.Uint64
	sumNs   atomic.Uint64
	buckets [nBuckets]atomic.Uint64

	desc      *prometheus.Desc
	quantiles []float64
	now       func() time.Time

	mu   sync.Mutex // the scrape side
	ring []snapshot // cumulative counts at past scrapes, oldest first
}

// snapshot is the buckets' cumulative counts at t.
type snapshot struct {
	t      time.Time
	counts []uint64
}

func newSummary(name string, quantiles []float64, now func() time.Time) *Summary {
	return &Summary{
		desc:      prometheus.NewDesc(name, name, nil, nil),
		quantiles: quantiles,
		now:       now,
		ring:      []snapshot{{t: now(), counts: make([]uint64, nBuckets)}},
	}
}

// Observe records one event that took d.
func (s *Summary) Observe(d time.Duration) { s.ObserveN(d, 1) }

// ObserveN records n events that took d each.
func (s *Summary) ObserveN(d time.Duration, n int64) {
	if s == nil || n <= 0 {
		return
	}
	d = max(d, 0)
	s.buckets[bucketOf(uint64(d/time.Microsecond))].Add(uint64(n))
	s.count.Add(uint64(n))
	s.sumNs.Add(uint64(d) * uint64(n))
}

// bucketOf is the bucket of a value in microseconds.
func bucketOf(us uint64) int {
	if us < subBuckets {
		return int(us)
	}
	shift := bits.Len64(us) - 7 // us>>shift is in [64, 128)
	return subBuckets + shift*subBuckets + int(us>>shift) - subBuckets
}

// bucketValue is the middle of bucket i, in milliseconds.
func bucketValue(i int) float64 {
	if i < subBuckets {
		return float64(i) / 1000
	}
	shift := (i - subBuckets) / subBuckets
	low := uint64(subBuckets+(i-subBuckets)%subBuckets) << shift
	return (float64(low) + float64(uint64(1)<<shift)/2) / 1000
}

// Describe implements prometheus.Collector.
func (s *Summary) Describe(ch chan<- *prometheus.Desc) { ch <- s.desc }

// Collect implements prometheus.Collector: count and sum since the start,
// quantiles over the last maxAge.
func (s *Summary) Collect(ch chan<- prometheus.Metric) {
	count, sum := s.count.Load(), s.sumNs.Load()
	cur := make([]uint64, nBuckets)
	for i := range cur {
		cur[i] = s.buckets[i].Load()
	}
	now := s.now()

	s.mu.Lock()
	// The base is the oldest snapshot within the window (or the newest,
	// when no scrape came for longer than it).
	base := s.ring[len(s.ring)-1]
	for _, sn := range s.ring {
		if now.Sub(sn.t) <= maxAge {
			base = sn
			break
		}
	}
	if now.Sub(s.ring[len(s.ring)-1].t) >= maxAge/ageBuckets {
		s.ring = append(s.ring, snapshot{t: now, counts: cur})
	}
	// Keep the snapshots within the window and the newest one before it.
	for len(s.ring) > 1 && now.Sub(s.ring[1].t) > maxAge {
		s.ring = s.ring[1:]
	}
	s.mu.Unlock()

	var n uint64
	window := make([]uint64, nBuckets)
	for i := range cur {
		window[i] = cur[i] - base.counts[i]
		n += window[i]
	}
	qs := make(map[float64]float64, len(s.quantiles))
	for _, q := range s.quantiles {
		qs[q] = quantile(window, n, q)
	}
	ch <- prometheus.MustNewConstSummary(s.desc, count, float64(sum)/1e6, qs)
}

// quantile is the value (ms) of rank q*n in the bucket counts, NaN for
// none.
func quantile(counts []uint64, n uint64, q float64) float64 {
	if n == 0 {
		return math.NaN()
	}
	rank := uint64(q * float64(n))
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen > rank {
			return bucketValue(i)
		}
	}
	return bucketValue(len(counts) - 1)
}
