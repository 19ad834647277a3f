// Package bench is zkbench's load driver. Run applies a workloads.Spec to a
// ZooKeeper ensemble and returns a results.Result.
//
// Run, in order:
//
//  1. validates the spec and options, and dials every member it was given,
//     failing fast (ErrUnreachable, naming the address) before anything
//     starts;
//  2. sets up the key space (Spec.Keys znodes of Spec.ValueSize bytes under
//     Options.Root) over one admin session;
//  3. opens one session per simulated client (go-zookeeper/zk), placed on
//     the members round-robin or on followers only (Options.Placement);
//  4. runs the warm-up, then the measured part, and stops cleanly at the
//     deadline or when ctx is cancelled, keeping partial results. With
//     Spec.WarmupMax the warm-up is automatic: it ends, on the series'
//     grid, once the throughput of the last 3 s is steady and, in open
//     loop, every session is within one operation per slot of its schedule
//     (warmup.go: a flat completion rate can hide a backlog), or at
//     WarmupMax with a warning; Result.Warmup records which, when, and how
//     far behind an open loop was. With Options.SharedWarmup the driver
//     publishes its buckets and a coordinator decides, by the same rule
//     (WarmupJudge) on the sum of several drivers' buckets;
//  5. closes the sessions and returns the result.
//
// Pacing. In closed loop each client keeps up to Spec.Outstanding requests
// in flight on its session, as ZooKeeper's own load generator
// (zookeeper-it GenerateLoad) kept 100, so that a few hundred clients
// saturate an ensemble; Outstanding 1 is a strictly synchronous client.
// go-zookeeper/zk has no asynchronous API, but its Conn is safe for
// concurrent use and pipelines requests, so a client is Outstanding
// goroutines sharing one *zk.Conn. In open loop operations are issued at
// Spec.Rate in total, each client on a fixed schedule
// (workloads.Spec.IntendedStart), and every latency is measured from the
// operation's intended start: when the server stalls, the operations that
// should have started during the stall carry the stall in their latency
// (coordinated omission corrected). The naive latency, from the actual send,
// is kept beside it (results.Result.Service).
//
// Recording. Latencies go into HDR histograms per operation type for the
// whole measured part, and per 100 ms interval (throughput, errors by kind,
// percentiles, the driver's CPU). Throughput is what completed inside the
// measured part: an operation counts (results.OpStats.Count and Errors, and
// the series interval in which it completed) when it completed there,
// whenever it started, so that an open loop that fell behind during warm-up
// reports the replies it got, not zero. Latency is of the operations that
// started (open loop: were scheduled) inside the measured part, from their
// intended start, whenever they completed; the series intervals hold the
// latencies of the operations they count.
//
// In open loop, operations scheduled in the measured part that had not
// completed when the run ended are counted (results.Driver.Unfinished): a
// schedule that fell far behind is visible, not silently shortened.
//
// Errors are counted by kind: connection loss, session expired, no server,
// timeout (a connection dropped because no reply came within the receive
// timeout: a hung server rather than a dead one; go-zookeeper reports both
// alike, the driver tells them apart from its connection's read deadline)
// and each ZooKeeper error code a server returned.
//
// Cost. The driver measures its own CPU (getrusage) over the measured part
// and per interval, reports CPU seconds per 10,000 operations, and warns in
// the result when it, or the whole machine, was saturated. Per operation it
// allocates nothing beyond what go-zookeeper does. Most of its CPU is
// go-zookeeper's system calls, so each connection buffers reads (one call
// for a burst of replies instead of two per reply) and coalesces writes
// (requests issued while a write is in progress share the next one; a lone
// request is written at once), and connection buffers are sized to the
// workload.
//
// Reconnects. go-zookeeper's default host provider shuffles the members and
// pauses one second after each full round of servers it could not reach,
// and its dialer waits up to a second; that would hide how fast servers
// recover. Run uses ReconnectTight by default (its own zk.HostProvider:
// the client's own member first, no shuffle, a short pause after a full
// round, a short dial timeout). The policy used is recorded in the result.
//
// History check. With Options.Check, every operation on a few keys
// (Check.Keys, spread over the key space) is recorded, warm-up included,
// with a history.Recorder: getData and setData, and a multi's setData of a
// checked key. Each such write sets a value that starts with a tag unique to
// it and a '|', so that a read names the write it saw; the key space's own
// values are known by their length and hash. Before the load the checked
// keys' state is read from the members, after it (once the operations have
// drained) their final state from every member, and history.Check judges
// the whole: lost acknowledged writes, linearizable writes per key, session
// order, no time travel, no value never written. The verdict, with every
// violation and its operations, is Result.Safety. Only operations on checked
// keys pay for it (a lock and a few allocations each); the recording stops
// at Check.MaxOps, and the verdict is then Unknown.
//
// Run has no global state; everything comes in through Options.
package bench
