// Package results is zkbench's result model: one versioned record of a
// benchmark run with everything needed to compare it with another run or to
// repeat it (workload spec and seed, implementation and version, ensemble
// size and roles, how it was launched, the driver's settings and its own CPU
// use, machine, Go version, git revision, start time), the measurements
// (latency histograms per operation type, a throughput and latency time
// series per interval, events such as injected faults), files to keep them
// in, and summary statistics.
//
// Contract: the package is pure. It takes records in and gives numbers out;
// it does no network I/O and reads no clock. Write and Read touch only the
// result directory: result.json (the versioned document), intervals.csv
// (the time series, one row per interval), latency.hlog (the whole-run
// histogram of each operation type, tagged with its name) and intervals.hlog
// (histograms of consecutive stretches of the run, with their times, which
// the log keeps to within a millisecond), the last two in the HdrHistogram log format
// that HdrHistogram's own tools (HistogramLogProcessor, plotters) read;
// and, when the run sampled its servers (Result.Servers), servers.csv (each
// server's own figures every sampling interval: role, queue, latency,
// fsync count and time, data, CPU, RSS; described column by column in
// result.json) and servers/server-N/ (each server's log and zoo.cfg,
// gzipped over 256 KiB). ServerFiguresOf, ServerDeltas and Leaders turn the
// samples into what each server did and who led when.
//
// Latencies are recorded in nanoseconds. SchemaVersion changes whenever a
// field changes meaning; Read rejects documents from a newer schema.
package results
