// Package report turns benchmark results into text: a summary of one run,
// side-by-side comparisons, a regression check of a result against a
// baseline, and a capacity-planning report, as Markdown (and, for capacity
// planning, a self-contained HTML page with its graphs embedded as data
// URIs).
//
// Contract: the package is pure. Its functions take results (already read)
// and graphs (already rendered) and write to an io.Writer; they touch no
// files, network or clock.
//
// Regression checks compare per-second throughput samples of two runs with a
// two-sided Mann-Whitney U test, as benchstat does and with its library
// (golang.org/x/perf's benchmath: the exact distribution of U up to 50
// samples a side, the normal approximation above), report the medians
// with 95 % confidence intervals, and call a change a regression only
// when it is both statistically significant (p < Alpha) and larger than
// Threshold.
package report
