// Package agent is the protocol between zkbench agents (long-running
// processes, one per load-generating machine) and the coordinator of a run,
// carried by a coordination ZooKeeper, and the agent's side of it.
//
// # Znode layout
//
// Every path lives under the root given after the connection string
// (CONNECT/chroot; /zkbench-agents when none is given). Values are JSON
// unless said otherwise.
//
//	/agents/<name>                  ephemeral, written by the agent: Facts (host
//	                                name, addresses, cores, memory, zkbench
//	                                version, roles it can take); its clock is
//	                                also measured against it
//	/assign/<name>                  written by the coordinator: the agent's
//	                                Assignment (run id, role, workload, its
//	                                session range, the targets); deleted when
//	                                the run ends
//	/runs/<run>                     the coordinator's Plan of the run
//	/runs/<run>/coordinator         ephemeral: the coordinator is alive; an
//	                                agent stops the run's load when it goes
//	/runs/<run>/ready/<name>        the agent's Ready: its sessions are up and
//	                                its clock offset to the coordination server
//	                                (or why it could not get ready)
//	/runs/<run>/start               Start: when the warm-up starts, in the
//	                                coordination server's clock (the barrier)
//	/runs/<run>/warmup/<name>       during an automatic warm-up (--warmup auto),
//	                                the agent's WarmupCounts: its last WarmupKeep
//	                                buckets of 500 ms (completions, open-loop
//	                                lag), indexed from /start, rewritten as each
//	                                ends (two writes a second, a few hundred
//	                                bytes)
//	/runs/<run>/measure             Measure: when the measured part starts, in
//	                                the coordination server's clock, written by
//	                                the coordinator once the warm-up is over
//	/runs/<run>/abort               its presence stops every agent's load; the
//	                                data is the reason (text)
//	/runs/<run>/chunks/<name>/NNNN  the agent's Report, gzipped JSON, in chunks
//	                                of at most ChunkSize (znodes are limited by
//	                                jute.maxbuffer, 1 MiB by default)
//	/runs/<run>/reports/<name>      ReportHeader, written after its chunks: how
//	                                many, the length and SHA-256 of the whole
//
// # Protocol
//
// An agent registers /agents/<name> and watches /assign/<name>. The
// coordinator waits for the agents it needs, refuses any of another zkbench
// version, plans contiguous session ranges, writes the assignments and
// waits for every Ready. It then compares each agent's clock offset with
// its own (both measured against the modification times the coordination
// server stamps, see MeasureOffset), refuses to start when a skew exceeds a
// tenth of the series interval, and writes /start: the warm-up's start in
// the server's clock, which each agent turns into its own by its offset,
// so that every agent labels an interval with the same index. A fixed
// warm-up ends at /start plus Spec.Warmup. An automatic one
// (Spec.WarmupMax) is decided by the coordinator, as one driver decides
// its own (bench.WarmupJudge) but on the sum of every agent's buckets by
// index: each agent publishes its buckets under /runs/<run>/warmup; when
// the sum is steady, or WarmupMax has passed, the coordinator writes
// /runs/<run>/measure two series intervals ahead, on the grid from /start,
// and each agent, turning it into its own clock by its offset, measures
// from there; the merged result records the warm-up (results.Warmup) and
// warns when it never steadied. Each agent writes its report when its
// load ends; the coordinator merges the reports
// exactly (package fleet).
//
// Supervision: an agent whose coordination session expires, or that has
// been disconnected for a session timeout, stops its load at once and
// exits; an agent stops its load when /runs/<run>/abort appears or
// /runs/<run>/coordinator goes. The coordinator aborts the run (by
// /abort) when a chosen agent's /agents/<name> goes.
//
// Roles: RoleClient drives a slice of the simulated sessions. RoleServer
// (agents started with Config.GoCommand) runs one server of the ensemble
// under test: a Go server from the agent's own binary, or upstream Java
// ZooKeeper (ServerAssignment.Impl "java") from Config.ZKHome or Debian's
// jars, which the agent probes at start and announces in Facts.Java. The
// agent chooses three free ports on its address and writes them in its
// Ready; the coordinator writes /runs/<run>/ensemble once every server
// agent has; the agent writes zoo.cfg and myid, starts the server
// (harness.Command: own process group, Pdeathsig=SIGKILL, from a thread
// that lives as long as the process), keeps /runs/<run>/status/<name>
// current (pid, srvr mode, frozen, CPU, peak RSS), carries out the
// FaultRequests queued under /runs/<run>/faults/<name> (kill, restart,
// freeze and thaw: SIGSTOP and SIGCONT to its process group; partition,
// partition-in, partition-out and heal: nftables rules on its host that
// drop the packets between its address and the other servers', in a table
// of its own, removed when the server stops; Facts.NetFaults says whether
// the host can), and kills
// the server when /runs/<run>/stop or /abort appears, the coordinator
// goes, or its own session is lost; its report carries the server's final
// figures.
package agent
