// Package harness owns a ZooKeeper ensemble for a benchmark run: it starts
// the servers (the Go zkserver, upstream Java ZooKeeper, or attaches to an
// external ensemble), waits until a quorum serves, tracks every server's
// role over time, injects faults (kill -9, restart, freeze, network
// partition and delay between peers), runs fault schedules while measuring
// how long the ensemble takes to elect a leader and to serve writes again,
// collects server-side CPU and memory figures, and stops everything.
//
// Contract:
//
//   - Every server process is a direct child of the driver, in the driver's
//     own session (never setsid, which would change its CPU share under
//     autogroup scheduling), in its own process group, with
//     Pdeathsig=SIGKILL set from a dedicated OS thread so it dies with the
//     driver. Close kills every process group and waits for it; it is
//     idempotent and is also run when Start fails or its context is
//     cancelled. No process outlives its Ensemble.
//   - Go and Java ensembles get a generated zoo.cfg and myid per server,
//     their own data directories under Options.RunDir, and free loopback
//     ports; a server that fails to bind makes Start retry with new ports.
//   - With Options.PeerProxy, each server's zoo.cfg points at proxies (one
//     per ordered pair of peers and port, see package netproxy) so that
//     Partition and Delay can cut or slow the traffic between peers.
//   - Faults are named values (see Faults); a fault aimed at a server that
//     cannot take it (already down, already frozen) is recorded as skipped,
//     never a crash.
//   - Schedules are pure values: Parse, PaperSchedule and RandomSchedule
//     build them; Ensemble.RunSchedule plays one against real servers.
package harness
