// Package harness owns a ZooKeeper ensemble for a benchmark run: it starts
// the servers (the Go zkserver, upstream Java ZooKeeper, or attaches to an
// external ensemble), waits until a quorum serves, tracks every server's
// role over time, injects faults (kill -9, restart, freeze, network
// partition and delay between peers), runs fault schedules while measuring
// how long the ensemble takes to elect a leader and to serve writes again,
// collects server-side CPU and memory figures, and stops everything.
//
// # Processes
//
// Every server process is a direct child of the driver, in the driver's own
// session (never setsid, which changes its CPU share under autogroup
// scheduling), in its own process group, with Pdeathsig=SIGKILL set from a
// dedicated OS thread so that it dies with the driver. Launch reports how
// and checks the sessions. Close kills every process group and waits; it is
// idempotent and also runs when Start fails or when Start's context is
// cancelled. No process outlives its Ensemble.
//
// Go and Java ensembles get a generated zoo.cfg and myid per server under
// Options.RunDir/server-N (with server.log and stdout.log), and loopback
// ports drawn below the ephemeral range and checked free; a server that
// fails to bind makes Start retry the whole ensemble with new ports (three
// attempts). Java runs as QuorumPeerMain with a generated log4j (and
// logback) configuration from Debian's jars (found by internal/zkbin), a
// ZooKeeper home, or a given class path; ErrJavaMissing says what to
// install. Command builds one such server process on a given config file
// for callers that manage processes themselves (internal/zktest), and
// PortPicker is the port choice.
//
// # Roles
//
// Each server is polled with srvr every Options.PollInterval; changes of
// role or epoch go to Timeline. A leader with leaderServes=no answers no
// four-letter word (Java says it is not serving, the Go server closes the
// connection), so a server that does not report a role but has an
// established connection on its own quorum port (only a leader accepts
// learners there) is taken to be the leader; such a leader's epoch is the
// last one it reported. Every Options.MntrInterval each server is sampled
// (MntrSnapshots: the MntrKeys of its mntr reply, its CPU and RSS), and
// every process's end is kept (Exits), killed by the harness or not.
//
// # Faults
//
// Kill, Restart, Freeze and Thaw act on processes (or run the user's
// commands for an external ensemble). With Options.PeerProxy every server's
// zoo.cfg points its peers at proxies (package netproxy), one per ordered
// pair of servers and port, so Partition and Delay act on the traffic
// between peers; the proxies rewrite the address a server announces when it
// opens an election connection, so that connections made back to it also go
// through a proxy. PartitionIn and PartitionOut hold one direction only
// (what the server receives from its peers, or what it sends them); Heal
// undoes any partition. An external ensemble takes the partitions and Heal
// through its ExternalCommands (agent-hosted servers: nftables rules on
// their hosts), never Delay. Faults are named values (Faults, FaultByName) with
// Available and Inject, as in etcd's robustness tests.
//
// With Options.DiskFaults each server's dataDir (and dataLogDir) is a
// FUSE mount of package faultfs over a sibling "<dir>.disk", Go and Java
// alike, so DiskFull (ENOSPC), FsyncSlow, FsyncFail (EIO) and DiskHeal act
// on its disk, and PowerLoss kills it with SIGKILL and drops everything it
// wrote and did not fsync (faultfs says what is modelled); Restart brings
// it back. The harness's own myid is written beneath the mount. Close
// unmounts every mount; Start first unmounts those whose serving process
// is gone (a killed test's). Disk faults are unavailable otherwise.
//
// # Schedules
//
// Schedules are pure values built by ParseSchedule ("at 10s kill follower
// as a; at 15s restart a; ..."), PaperSchedule (the five events of the
// ZooKeeper paper's reliability figure) and RandomSchedule (seeded; never
// faults more than a minority longer than asked). RunSchedule plays one:
// steps run at their offsets from its start (a step aimed at a role waits
// up to 5 s for a server in it, and later steps shift by the wait); a step that
// cannot apply is recorded as skipped; after each fault the harness writes
// through its own go-zookeeper clients (one per server, reconnecting every
// 10 ms) every 5 ms until a write succeeds, and times the election by
// polling srvr every 10 ms.
package harness
