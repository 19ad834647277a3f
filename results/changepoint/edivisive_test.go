package changepoint

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestQKnownValues checks the statistic on series small enough to work by
// hand.
func TestQKnownValues(t *testing.T) {
	for _, tc := range []struct {
		xs    []float64
		tau   int
		q     float64
		about string
	}{
		// x = {0,0}, y = {1,1}: cross mean 1, within 0: E = 2, Q = (2·2/4)·2.
		{[]float64{0, 0, 1, 1}, 2, 2, "a step"},
		// x = {0,1}, y = {0,1}: cross mean 1/2, within 1: E = 1-1-1, Q = -1.
		{[]float64{0, 1, 0, 1}, 2, -1, "alike halves"},
		// x = {1,2,3}, y = {7,8,9}: cross mean 6, within mean 4/3: E = 12-8/3, Q = 1.5·28/3 = 14.
		{[]float64{1, 2, 3, 7, 8, 9}, 3, 14, "a step of 6"},
	} {
		tau, q := splitSegment(distances(tc.xs, 1), 0, len(tc.xs), len(tc.xs)/2)
		if tau != tc.tau || math.Abs(q-tc.q) > 1e-12 {
			t.Errorf("%s %v: split %d with Q %g, want %d with %g", tc.about, tc.xs, tau, q, tc.tau, tc.q)
		}
	}
}

// TestSplitSegmentMatchesNaive checks the running sums against the
// formula computed afresh for every split, on random series.
func TestSplitSegmentMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for range 50 {
		xs := make([]float64, 6+rng.IntN(30))
		for i := range xs {
			xs[i] = rng.NormFloat64()
		}
		minSize := 2 + rng.IntN(3)
		wantTau, wantQ := -1, math.Inf(-1)
		for tau := minSize; tau <= len(xs)-minSize; tau++ {
			if q := naiveQ(xs[:tau], xs[tau:]); q > wantQ {
				wantTau, wantQ = tau, q
			}
		}
		tau, q := splitSegment(distances(xs, 1), 0, len(xs), minSize)
		if tau != wantTau || math.Abs(q-wantQ) > 1e-9 {
			t.Fatalf("%v (min %d): split %d Q %g, want %d Q %g", xs, minSize, tau, q, wantTau, wantQ)
		}
	}
}

func naiveQ(x, y []float64) float64 {
	m, n := float64(len(x)), float64(len(y))
	var cross, wx, wy float64
	for _, a := range x {
		for _, b := range y {
			cross += math.Abs(a - b)
		}
	}
	for i := range x {
		for k := i + 1; k < len(x); k++ {
			wx += math.Abs(x[i] - x[k])
		}
	}
	for i := range y {
		for k := i + 1; k < len(y); k++ {
			wy += math.Abs(y[i] - y[k])
		}
	}
	return m * n / (m + n) * (2*cross/(m*n) - wx/(m*(m-1)/2) - wy/(n*(n-1)/2))
}

// TestEDivisiveKnownSeries: flat series have no change point; steps are
// found where they are, with their size.
func TestEDivisiveKnownSeries(t *testing.T) {
	flat := make([]float64, 40)
	for i := range flat {
		flat[i] = 100
	}
	if cps := EDivisive(flat, Options{}); len(cps) != 0 {
		t.Errorf("flat series: %+v", cps)
	}
	// Two steps, with a little deterministic wobble.
	var two []float64
	for i := range 45 {
		level := 100.0
		switch {
		case i >= 30:
			level = 80
		case i >= 15:
			level = 120
		}
		two = append(two, level+float64(i%3)-1)
	}
	cps := EDivisive(two, Options{})
	if len(cps) != 2 || cps[0].Index != 15 || cps[1].Index != 30 {
		t.Fatalf("two steps at 15 and 30: %+v", cps)
	}
	if math.Abs(cps[0].Change-0.2) > 1e-9 || math.Abs(cps[1].Change+1.0/3) > 1e-9 || cps[0].P > 0.01 {
		t.Errorf("changes: %+v, want +20%% and -33%% with p = 1/200", cps)
	}
	if short := EDivisive(two[:9], Options{}); short != nil {
		t.Errorf("9 points, segments of 5: %+v", short)
	}
}

// TestEDivisiveSeeded: the same series and seed give the same answer.
func TestEDivisiveSeeded(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	xs := make([]float64, 40)
	for i := range xs {
		xs[i] = 100 + 10*rng.NormFloat64()
		if i >= 20 {
			xs[i] -= 8
		}
	}
	a := EDivisive(xs, Options{Rand: rand.New(rand.NewPCG(9, 9))})
	b := EDivisive(xs, Options{Rand: rand.New(rand.NewPCG(9, 9))})
	if len(a) != len(b) {
		t.Fatalf("%+v vs %+v", a, b)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("%+v vs %+v", a, b)
		}
	}
}
