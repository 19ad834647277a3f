// Package reaper decides when the server deletes empty containers and
// expired TTL nodes, as upstream's ContainerManager does on the leader (or
// the standalone server).
//
// Every CheckInterval (znode.container.checkIntervalMs) the reaper lists the
// candidates in the committed tree (tree.ExpiredContainersAndTTLsNeverUsed:
// empty containers that once had a child, empty containers never used for
// MaxNeverUsed when that is set, and childless TTL nodes unmodified for
// longer than their TTL) and hands them out one at a time, no closer than a
// minute / MaxPerMinute apart (znode.container.maxPerMinute). The driver
// turns each into a deleteContainer request made by the server itself
// (proto.Request.FromServer, session 0, cxid 0, as upstream's request with
// no connection), which the prep stage checks again: a container that got
// a child in the meantime becomes an error txn, as upstream.
//
// Candidates due at one check are handed out in path order; upstream's
// follow its HashSet's order, so when several are due at once their
// deletions may take other zxids than Java's.
//
// As upstream's fixed-rate timer, a check that falls due while the previous
// list is still being handed out waits for it and then runs at once; a
// driver that was kept away for more than a whole interval resumes with one
// check rather than one per missed interval.
//
// The Reaper is pure: the clock is passed in. Run drives one with a timer.
package reaper
