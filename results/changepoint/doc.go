// Package changepoint finds the points where a series of measurements
// (one per commit, say) changes its distribution, with E-divisive means
// (Matteson and James, "A Nonparametric Approach for Multiple Change Point
// Analysis of Multivariate Data", JASA 2014), the method MongoDB's
// performance CI uses (its signal-processing-algorithms) and R's
// ecp::e.divisive implements.
//
// The divergence between the points before and after a candidate split τ
// of a segment is the energy statistic
//
//	Q(τ) = m·n/(m+n) · ( 2/(m·n) Σ|xᵢ−yⱼ|^a − 1/C(m,2) Σ|xᵢ−xₖ|^a − 1/C(n,2) Σ|yⱼ−yₗ|^a )
//
// with m points x before τ, n points y from τ on, and exponent a in (0, 2)
// (1 by default): large when the two sides differ in location, and near or
// below zero when they look alike. The segment's end is fixed (κ = the end
// of the segment, as MongoDB's variant; ecp also searches κ). Change points
// are found one at a time: the split with the largest Q over all current
// segments is kept only if a permutation test finds it significant (its Q
// is compared with the largest Q after shuffling the points within each
// segment, Permutations times), and the search stops at the first split
// that is not.
//
// The package is hand-written: no Go library offers E-divisive with its
// permutation test (pgregory.net/changepoint implements ED-PELT, which
// gives no p-values). It is pure: a seeded *rand.Rand comes in, and the
// same series and seed always give the same answer.
package changepoint
