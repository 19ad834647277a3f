// Package trend follows a benchmark over a history of results: it groups
// results by what they measured (workload, implementation, ensemble size
// and machine), orders each group's results by commit (the time of a
// commit's first run), takes one value per commit and metric (the median
// of its runs), and finds the commits where a metric stepped with
// E-divisive means (package changepoint). A step for the worse beyond a
// threshold is a regression.
//
// Contract: the package is pure: results in, series and change points
// out; no files, clock or global randomness (the permutation tests are
// seeded).
package trend
