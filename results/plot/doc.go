// Package plot draws zkbench's graphs from result files: throughput over
// time with the fault events marked (the "reliability in the presence of
// errors" figure), throughput against the percentage of reads with one line
// per ensemble size (the "throughput as the read/write ratio varies"
// figure), the latency percentile spectrum from HDR histograms, latency over
// time, and overlays of several runs (Go against Java).
//
// Contract: the package is pure. Each graph function takes results (already
// read) and returns a *plot.Plot from gonum.org/v1/plot, or an error naming
// what the results lack; it does no I/O, reads no clock and keeps no state.
// Encode and Save render a plot as PNG or SVG; Save touches only the files it
// names.
//
// Event marks follow package experiment's convention: an event whose Detail
// starts with a number and a colon ("3: kill server 5 (leader)") belongs to
// the numbered event of the schedule, and is labelled with that number.
package plot
