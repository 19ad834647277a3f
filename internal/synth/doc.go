// Package synth makes synthetic benchmark results for tests and examples:
// plausible time series, HDR histograms and events, drawn from a seeded
// generator (never the clock), so that graphs, reports and regression
// checks can be tested without running servers. The same Options always
// give the same result.
package synth
