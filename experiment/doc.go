// Package experiment runs zkbench's experiments: one run is a harness
// ensemble, a bench load and an optional fault schedule, and yields a
// results.Result; a sweep is a grid of runs over ensemble sizes and read
// percentages.
//
// It is the glue of the one-way chain workloads -> bench -> harness ->
// results and may import all of them; none of them imports it.
//
// Contract:
//
//   - Run starts the ensemble, waits until it serves, applies the load and
//     plays the schedule while the load runs, and always closes the ensemble
//     (no server process outlives Run, even on error or cancellation).
//   - A fault schedule starts when the measured part of the load starts
//     (after the warm-up; the result's first event, "load", marks the start
//     of the warm-up), so that its times are offsets in the result's time
//     line. Every applied step becomes a results.Event stamped from the
//     harness's own clock readings, whose Detail starts with the step's note
//     (the paper's event number) and a colon when the step has one, e.g.
//     "1: kill server 3 (follower)"; a measured election or recovery adds
//     an "elected", "recovered" or "serving" event at the time it ended.
//   - Run writes nothing; Save and WriteRun write a run directory (result
//     files, graphs, report.md) and never overwrite one.
//   - Every result holds the servers' side (ServerRecord, before the
//     ensemble closes): the harness's samples of every server from the
//     start of the warm-up, each launched server's log and zoo.cfg, and the
//     problems found in them (ERROR lines, "no space left on device" with
//     the directory and its file system, exits the harness did not cause),
//     which are also the result's warnings.
//   - Cancelling ctx during the measured part keeps the partial result
//     (bench's contract); the caller decides whether to write it.
package experiment
