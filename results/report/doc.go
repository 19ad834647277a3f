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
// two-sided Mann-Whitney U test (normal approximation with tie correction),
// as benchstat does, and call a change a regression only when it is both
// statistically significant (p < Alpha) and larger than Threshold.
package report
