// Package zab implements ZooKeeper's atomic broadcast protocol (Zab:
// discovery, synchronization, broadcast) as a pure state machine, in the
// style of etcd's raft package: messages and ticks go in, a Ready comes out
// listing what to persist, what to send and what is committed, and the
// driver calls Advance when it has done it. The package does no I/O, starts
// no goroutine and reads no clock; time is counted in ticks.
//
// One Zab value serves one reign: the election (package election) decides
// who leads, and the driver starts a machine with Config.Role and
// Config.Leader. When the machine stops (Ready.RoleChange.Lost) the driver
// runs the election again and starts a new machine.
//
// # Protocol
//
// The phases follow "Zab: High-performance broadcast for primary-backup
// systems" (Junqueira, Reed, Serafini, DSN 2011) as upstream ZooKeeper
// implements them (Leader, LearnerHandler, Learner, Follower, Observer):
//
//   - Discovery. A learner sends FOLLOWERINFO (OBSERVERINFO) with its
//     acceptedEpoch. Once a quorum of voters, the leader included, has told
//     theirs, the leader picks epoch = max+1, persists it as its
//     acceptedEpoch and sends LEADERINFO. A learner accepts an epoch at most
//     once: it persists acceptedEpoch and answers ACKEPOCH with its
//     currentEpoch and last zxid (currentEpoch -1 if it had accepted this
//     epoch before, as upstream). If a voter of the acking quorum is more
//     recent than the leader, (currentEpoch, lastZxid) compared in that
//     order, the leader stops (ErrFollowerAhead): election should not have
//     chosen it.
//   - Synchronization. Once a quorum acked the epoch the leader persists it
//     as its currentEpoch; its whole log is the epoch's initial history.
//     Each learner gets DIFF when the leader's log holds the learner's last
//     zxid (the learner's history is then a prefix: a zxid names one
//     proposal of one leader); TRUNC to the leader's last zxid below the
//     learner's when both are of the same epoch (the learner has the
//     leader's entry, and only uncommitted ones past it); SNAP (a snapshot
//     from Config.Snapshotter) otherwise. Then the history the learner lacks
//     as PROPOSAL and COMMIT pairs (it is all to be committed), then
//     NEWLEADER. A learner persists the history and its new currentEpoch
//     and acks NEWLEADER. When a quorum acked, the leader is established:
//     it commits its initial history and sends UPTODATE to the acked
//     learners, which apply it and start serving.
//     Learners that join later are synced the same way, with every proposal
//     the leader has logged in the history (PROPOSALs alone for what is not
//     committed yet; observers get only what is); from the moment the sync
//     is queued they also receive the broadcasts, after it on the same FIFO
//     connection.
//   - Broadcast. Proposals are pipelined: PROPOSAL to every follower, ACK
//     once durable (an ACK vouches for every earlier zxid too), COMMIT in
//     zxid order once a quorum of voters, the leader counting only what it
//     made durable, has logged it. Observers never ack and never count;
//     they receive INFORM (the committed txn) instead.
//
// Liveness: the leader pings every learner each tick; a learner answers
// pings. A learner stops when its leader is silent for SyncLimitTicks
// (InitLimitTicks before UPTODATE), a leader when fewer than a quorum of
// synced voters were heard from within SyncLimitTicks, or when it is not
// established within InitLimitTicks of the last discovery step. A learner
// that breaks the protocol (a gap in the zxids, a commit past its log) stops
// with ErrProtocol rather than guess.
//
// Sync (the client's sync op): the leader answers once everything proposed
// before the request is committed; the token returns in Ready.Synced on the
// server that asked, after the commits that precede it. A learner's token
// travels as the REQUEST's data and must be upstream's sync request
// (SyncRequest); the leader answers syncs in order, with bare SYNCs.
//
// # The driver's duties
//
// The driver loop owns the clock, the disk and the sockets. Do not call
// Step, Tick, Propose, Forward or Sync between Ready and Advance.
//
//  1. Call Tick once per tick (upstream tickTime), Step for each message
//     received, Disconnected(peer) when a peer connection breaks; on the
//     leader, Propose for each prepared write (Ready.Requests and local
//     clients); Forward and Sync for client writes and syncs on learners.
//  2. While HasReady, take rd := Ready() and, in this order:
//  3. If rd.Snapshot is set, install it: replace the state and start the log
//     afresh after rd.Snapshot.Zxid.
//  4. If rd.Truncate is set, drop log entries after *rd.Truncate (and, if
//     the applied state is past it, rebuild the state at *rd.Truncate).
//  5. Append rd.Persist to the log (written, not necessarily fsynced yet)
//     and write rd.Epochs (acceptedEpoch, currentEpoch). Make 3, 4 and the
//     epochs durable before step 6: messages vouch for them (LEADERINFO and
//     NEWLEADER follow epochs that must never be forgotten).
//  6. Send rd.Messages, in order per peer, on FIFO connections (TCP).
//  7. Apply rd.Commit to the state in order; hand rd.Requests to the prep
//     stage (leader); complete the syncs in rd.Synced (after applying).
//  8. If rd.RoleChange is set: Active means serve clients; Lost means fail
//     pending client requests and syncs, and go back to leader election.
//  9. Call Advance(rd).
//  10. Fsync the appended entries, at once or on a goroutine of their own
//     while the loop goes on (upstream's SyncRequestProcessor), and call
//     Persisted(zxid) from the loop when the fsync that covered zxid
//     returned (Storage holding the entries by then). Nothing in a Ready
//     vouches for entries not yet Persisted: a follower's ACKs (of each
//     proposal, and of NEWLEADER for the history before it) and a leader's
//     count of its own acknowledgement wait for Persisted, so the driver
//     may send each Ready's messages before its fsync. One fsync for all
//     that was appended meanwhile is the group commit. Before installing a
//     snapshot or truncating, and when the machine stops, let the fsync in
//     flight finish. The simulator runs drivers of both kinds, and checks
//     that no ACK precedes the fsync of what it vouches for.
//
// Storage is read, never written, by this package; the driver writes it in
// steps 3-5. MemoryStorage is an in-memory implementation for tests.
// Config.Applied says where the driver's restored state stands (its
// snapshot plus whatever it replayed); entries after it are applied only
// when Ready.Commit lists them. On the leader, NextZxid gives the zxid the
// next Propose will assign, for the txn header prep serializes.
//
// # Testing
//
// The tests run a seeded in-process cluster (sim_test.go): per-connection
// FIFO links, crashes that lose what was not made durable (also in the
// middle of a group fsync), partitions, log compaction, and an election
// that is either a stand-in (which sometimes picks a stale leader) or
// package election's Fast Leader Election. Every schedule checks that all
// servers apply one sequence, that each new leader holds every committed
// entry, one leader per epoch, epochs that never go back, syncs that see
// what was committed before them, and, after healing, that every server
// applied every acknowledged write. Simulated clients with sessions also
// record their reads, writes and syncs, and every schedule's client history
// passes history.Check (linearizable writes and synced reads, session
// order, no time travel, no lost acknowledged write). A failure prints its
// seed and the last events; replay one with
//
//	go test ./server/zab -run TestSimulatedSchedules -zab.seed=N -zab.seeds=1
//
// and widen a run with -zab.seeds and -zab.steps.
//
// # Differences from upstream, and gaps
//
// The packets are upstream's (Leader.java's types, QuorumPacket's jute
// record, the data each carries), so that Go and Java servers form one
// ensemble (server/mixed_test.go runs both ways round, and
// server/mixed_observer_test.go with an observer of each): the sync history
// goes as PROPOSAL and COMMIT pairs for what is committed (before the
// leader is established, its whole history, as upstream's) and PROPOSALs
// for the rest, whose COMMITs follow as they commit (upstream 3.8's
// learner fails on a COMMIT between NEWLEADER and UPTODATE whose PROPOSAL
// came before NEWLEADER, ZOOKEEPER-4394, and leaves: an establishing
// leader sends none, and an established one holds those due to a syncing
// follower until after its UPTODATE); LEADERINFO and ACKEPOCH
// carry the bare ints upstream does; FOLLOWERINFO a LearnerInfo; a
// learner's sync is a REQUEST holding an OpSync (SyncRequest), answered by
// a bare SYNC in the order the syncs came; REQUEST data is upstream's
// request serialization with the client's auth ids in the packet, left to
// the driver like PING's session touches and REVALIDATE. The transport
// sends SNAP's snapshot on the stream after the packet, as upstream. The
// commit of a reconfig is COMMITANDACTIVATE to followers and
// INFORMANDACTIVATE (the id, then the txn) to observers, each naming the
// leader to follow next: the leader itself when it stays a voter, else a
// successor (Ready.Designated); a learner told of another leader applies
// the reconfig and stops (ErrSucceeded), as upstream's leaves its leader.
// NEWLEADER's configuration reaches the driver at UPTODATE, when upstream's
// learner activates it. Left as they were: UPTODATE's zxid carries the
// commit point (upstream sends -1 and its learners ignore it; a learner
// here takes -1 to mean the sync's base and the COMMITs received); a
// learner acks NEWLEADER once the history is durable and applies it only
// at UPTODATE; LearnerInfo's configVersion is 0 (upstream's learner sends
// its configuration's version, which the leader only checks is not past
// its own); observers sync from the leader only (upstream's
// observerMasterPort, where followers serve observers, is not served).
//
// A leader that hears FOLLOWERINFO from a voter that accepted a later epoch
// (promised to a leader that then failed) steps down so that the next
// election picks an epoch that voter can accept; upstream leaves the voter
// out until the leader changes. From any other learner (an observer, or a
// server in no membership) such a FOLLOWERINFO is refused (ErrRefused):
// only a voter's promise is a reason to make way, and a forged one must not
// make a leader step down.
//
// # Reconfiguration
//
// The leader proposes a membership change with ProposeReconfig, one at a
// time. From that entry on, every proposal needs a quorum of both the
// current and the next voters; when the entry commits, the next membership
// is in force, and a leader that is not one of its voters stops
// (ErrRemoved). A leader whose history holds a reconfig not known to be
// committed starts with Config.Pending: it needs both quorums to establish
// and switches once it has. Servers in neither list may follow (joiners,
// removed servers) and are never counted. NEWLEADER carries
// Config.MembershipData, opaque here, to Ready.LeaderMembership (the
// driver sends the last configuration it has seen, a pending one
// included, as upstream). A Go leader with Java learners and a Java leader
// with Go learners add, remove and change the role of members, and hand
// the lead over, in server/mixed_reconfig_test.go.
package zab
