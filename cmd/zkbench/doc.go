// Command zkbench benchmarks ZooKeeper ensembles: the Go ensemble it embeds,
// upstream Java ZooKeeper, or any running ensemble.
//
//	zkbench run --servers 7 --writes 30%
//	zkbench sweep --sizes 3,5,7 --reads 0,50,100
//	zkbench reliability
//	zkbench run --servers 5 --faults random --fault-mix kill,freeze,partition
//	zkbench matrix --impls go,java --sizes 3,5 --reps 5
//	zkbench compare runs/a runs/b
//	zkbench compare --sizes 1,3,7 --reads 0,70,100 --reps 3 --bound
//	zkbench report --p99 10ms runs/sweep-...
//	zkbench regress --baseline runs/base runs/new
//	zkbench history --fail-on-regression ci-results/
//	zkbench version
//
// Every run writes a directory under --out (default runs/) holding the
// result (result.json, intervals.csv, HDR logs), its graphs (PNG and SVG)
// and a Markdown report; compare, report, regress and history work from
// those directories alone. A run with faults (or --check) also records what
// its clients did and saw on a few keys and checks it (result.json's
// safety, report.md's Safety section, a red band on the throughput graph).
//
// Exit codes: 0 success, 1 a significant regression (regress, history
// --fail-on-regression), 2 usage or input error, 3 could not run, 4 a
// safety violation (the run was saved; its report lists the operations).
package main
