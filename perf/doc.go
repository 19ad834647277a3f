// Package perf compares the Go server with upstream Java ZooKeeper on the
// same machine, workloads and driver, and measures how close both come to
// the no-op bound (server/noop: a responder that does no work).
//
// Compare runs, for every repetition, every ensemble size and every read
// percentage, the Go ensemble, the Java ensemble and the no-op responders
// back to back (the order of Go and Java alternates between repetitions),
// so that every ratio comes from runs made under the same machine load.
// It also records each server's resident memory idle (after start, before
// any load) and its peak under load, how long a Go ensemble takes from
// launch to serving, and each run's CPU time per operation of the server
// processes (from /proc, sampled every 100 ms and interpolated at the ends
// of the measured part) and of the driver (getrusage): on a machine whose
// cores the driver and the servers share, that explains the ratios.
//
// With Config.Rates it then measures latency where it means something:
// open loop, below saturation, at the same offered rate for every
// implementation (a share of Java's measured saturation throughput at each
// point, or an absolute rate), reporting p50, p99 and p99.9 with their
// spread, Go/Java ratios and the operations left unfinished (RatePoints);
// each fixed-rate ensemble first runs the closed loop until steady, so that
// the rates meet warm servers. Every point is judged by its regime's target
// (TargetFor: issue 19's for synchronous sessions, issue 9's and issue 19's
// for pipelined ones; latency at 50 % and 90 % of Java's saturation). With Config.WarmupMax every run
// warms up until its throughput is steady (bench's rule) rather than for a
// fixed time, and the report says how long each implementation needed
// (WarmupFigures): Java's JIT climbs for seconds.
//
// Contract:
//
//   - Every server process is started by the harness (or, for the no-op
//     responders, by this package) as a direct child of the caller, in the
//     caller's session, and is killed before Compare returns, also on error
//     or cancellation.
//   - Figures are ratios of runs made in the same repetition; the spread
//     of a figure is its minimum and maximum over the repetitions.
//   - Compare writes nothing; Report.Markdown and Report.WriteFiles render
//     and save a finished report.
//
// Figures over the repetitions are results.Dist values (median, range,
// mean, standard deviation).
//
// The command is `zkbench compare` with --sizes, --reps, --bound,
// --go-variant, --rates, --regimes or --profile (cmd/zkbench builds the
// Config and writes the Report into a run directory); `make bench-compare` and `make
// bench-before-after BASE=rev` run it.
package perf
