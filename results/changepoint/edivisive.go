package changepoint

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Options tune EDivisive. The zero value uses the defaults.
type Options struct {
	// MinSize is the fewest points a segment may have (default 5).
	MinSize int
	// Alpha is the significance level of the permutation test (default
	// 0.05).
	Alpha float64
	// Permutations is how many shuffles each test makes (default 199, as
	// ecp; the smallest p-value is then 1/200).
	Permutations int
	// Exponent is a, the power of the distances, in (0, 2) (default 1).
	Exponent float64
	// Rand shuffles for the permutation test; nil means a generator
	// seeded with 1, so that a series always gets the same answer.
	Rand *rand.Rand
}

func (o Options) withDefaults() Options {
	if o.MinSize < 2 {
		o.MinSize = 5
	}
	if o.Alpha <= 0 {
		o.Alpha = 0.05
	}
	if o.Permutations <= 0 {
		o.Permutations = 199
	}
	if o.Exponent <= 0 || o.Exponent >= 2 {
		o.Exponent = 1
	}
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(1, 1))
	}
	return o
}

// ChangePoint is a significant change in a series.
type ChangePoint struct {
	// Index is the first point after the change.
	Index int `json:"index"`
	// Q is the divergence statistic of the split, and P its permutation
	// p-value.
	Q float64 `json:"q"`
	P float64 `json:"p"`
	// Before and After are the means of the segments on either side of
	// the change (between the neighbouring change points), and Change is
	// (After-Before)/Before.
	Before float64 `json:"before"`
	After  float64 `json:"after"`
	Change float64 `json:"change"`
}

// EDivisive returns the significant change points of xs in the order of
// their indices; none for a series shorter than two segments.
func EDivisive(xs []float64, o Options) []ChangePoint {
	o = o.withDefaults()
	if len(xs) < 2*o.MinSize {
		return nil
	}
	d := distances(xs, o.Exponent)
	bounds := []int{0, len(xs)} // segment boundaries, sorted
	var found []ChangePoint
	for {
		tau, q := bestSplit(d, bounds, o.MinSize)
		if tau < 0 {
			break
		}
		p := permutationP(xs, bounds, q, o)
		if p >= o.Alpha {
			break
		}
		found = append(found, ChangePoint{Index: tau, Q: q, P: p})
		bounds = append(bounds, tau)
		slices.Sort(bounds)
	}
	slices.SortFunc(found, func(a, b ChangePoint) int { return a.Index - b.Index })
	for i := range found {
		lo, hi := 0, len(xs)
		if i > 0 {
			lo = found[i-1].Index
		}
		if i+1 < len(found) {
			hi = found[i+1].Index
		}
		c := &found[i]
		c.Before, c.After = mean(xs[lo:c.Index]), mean(xs[c.Index:hi])
		if c.Before != 0 {
			c.Change = (c.After - c.Before) / c.Before
		}
	}
	return found
}

// distances returns the matrix |xᵢ−xⱼ|^a.
func distances(xs []float64, a float64) [][]float64 {
	d := make([][]float64, len(xs))
	for i := range xs {
		d[i] = make([]float64, len(xs))
		for j := range xs {
			d[i][j] = math.Pow(math.Abs(xs[i]-xs[j]), a)
		}
	}
	return d
}

// bestSplit returns the split with the largest Q over the segments
// between bounds, and that Q; -1 when no segment can be split into two of
// at least minSize points.
func bestSplit(d [][]float64, bounds []int, minSize int) (int, float64) {
	best, bestQ := -1, math.Inf(-1)
	for k := 0; k+1 < len(bounds); k++ {
		if tau, q := splitSegment(d, bounds[k], bounds[k+1], minSize); tau >= 0 && q > bestQ {
			best, bestQ = tau, q
		}
	}
	return best, bestQ
}

// splitSegment returns the τ in [s+minSize, e-minSize] that maximises Q
// for the segment [s, e), and Q there; -1 when the segment is too short.
// It keeps running sums of the distances within the left part, within the
// right part and across, so that a segment costs O((e-s)²).
func splitSegment(d [][]float64, s, e, minSize int) (int, float64) {
	if e-s < 2*minSize {
		return -1, 0
	}
	// within(s, e): the sum of d over pairs i<k in [s, e).
	var total float64
	for i := s; i < e; i++ {
		for k := i + 1; k < e; k++ {
			total += d[i][k]
		}
	}
	// Start with the left part [s, s+minSize).
	var left float64
	for i := s; i < s+minSize; i++ {
		for k := i + 1; k < s+minSize; k++ {
			left += d[i][k]
		}
	}
	// right = within(tau, e), computed by removing points from the left
	// of [s, e).
	right := total
	for i := s; i < s+minSize; i++ {
		for k := i + 1; k < e; k++ {
			right -= d[i][k]
		}
	}
	best, bestQ := -1, math.Inf(-1)
	for tau := s + minSize; tau <= e-minSize; tau++ {
		m, n := float64(tau-s), float64(e-tau)
		cross := total - left - right
		q := m * n / (m + n) * (2*cross/(m*n) - left/(m*(m-1)/2) - right/(n*(n-1)/2))
		if q > bestQ {
			best, bestQ = tau, q
		}
		// Move point tau from the right part to the left.
		for i := s; i < tau; i++ {
			left += d[i][tau]
		}
		for k := tau + 1; k < e; k++ {
			right -= d[tau][k]
		}
	}
	return best, bestQ
}

// permutationP is the p-value of a best split with statistic q: the share
// of shuffles (points permuted within each segment) whose best split is
// at least as divergent, counting the observed series as one of them.
func permutationP(xs []float64, bounds []int, q float64, o Options) float64 {
	perm := slices.Clone(xs)
	atLeast := 0
	for range o.Permutations {
		for k := 0; k+1 < len(bounds); k++ {
			seg := perm[bounds[k]:bounds[k+1]]
			o.Rand.Shuffle(len(seg), func(i, j int) { seg[i], seg[j] = seg[j], seg[i] })
		}
		if _, pq := bestSplit(distances(perm, o.Exponent), bounds, o.MinSize); pq >= q {
			atLeast++
		}
	}
	return float64(atLeast+1) / float64(o.Permutations+1)
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
