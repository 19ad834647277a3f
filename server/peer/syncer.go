package peer

import (
	"fmt"

	"github.com/zkbench/zkbench/server/wal"
	"github.com/zkbench/zkbench/server/zab"
)

// logSyncer fsyncs the log off the peer loop, as upstream's
// SyncRequestProcessor does: the loop appends each Ready's entries and
// goes on receiving ACKs, sending COMMITs and taking requests while one
// goroutine waits in fdatasync. What was appended meanwhile goes into the
// next fsync (the group commit). The loop tells Zab what is durable
// (Persisted) when an fsync returns; Zab holds back what vouches for the
// entries (a follower's ACKs, the leader's own vote) until then.
//
// All fields but the channels belong to the loop.
type logSyncer struct {
	req  chan func() error // an fsync to do (the log's Sync)
	done chan error        // its result, one per request

	appended []zab.Entry // appended, not yet known durable, in zxid order
	inFlight int         // how many of appended the running fsync covers; 0 if none runs
}

// newLogSyncer starts the syncing goroutine; stop ends it.
func newLogSyncer() *logSyncer {
	s := &logSyncer{req: make(chan func() error, 1), done: make(chan error, 1)}
	go s.run()
	return s
}

func (s *logSyncer) run() {
	for sync := range s.req {
		// Let the goroutines the loop just woke (the writers of the
		// proposals and commits it routed, replies to clients) take the
		// P first.
		wal.YieldBeforeSync()
		s.done <- sync()
	}
}

// stop ends the syncing goroutine; call it once no fsync runs (wait).
func (s *logSyncer) stop() { close(s.req) }

// add records entries the loop appended and starts an fsync (sync, the
// log's Sync) if none runs.
func (s *logSyncer) add(sync func() error, es []zab.Entry) {
	s.appended = append(s.appended, es...)
	s.kick(sync)
}

// kick starts an fsync of everything appended, unless one runs or there
// is nothing to sync.
func (s *logSyncer) kick(sync func() error) {
	if s.inFlight == 0 && len(s.appended) > 0 {
		s.inFlight = len(s.appended)
		s.req <- sync
	}
}

// synced takes the result of the running fsync: the entries it covered,
// now durable, or its failure.
func (s *logSyncer) synced(err error) ([]zab.Entry, error) {
	n := s.inFlight
	s.inFlight = 0
	if err != nil {
		return nil, fmt.Errorf("peer: log fsync: %w", err)
	}
	covered := s.appended[:n:n]
	s.appended = s.appended[n:]
	if len(s.appended) == 0 {
		s.appended = nil
	}
	return covered, nil
}

// busy reports whether entries wait for an fsync.
func (s *logSyncer) busy() bool { return len(s.appended) > 0 }

// onSynced makes what an fsync covered durable for Zab and the DIFF
// window, and starts the next fsync if more was appended meanwhile.
func (p *Peer) onSynced(rs *reignState, err error) error {
	covered, err := rs.sync.synced(err)
	if err != nil {
		return err
	}
	p.store.remember(covered)
	p.fsyncs.Add(1)
	p.fsyncTxns.Add(int64(len(covered)))
	rs.z.Persisted(covered[len(covered)-1].Zxid)
	rs.sync.kick(p.store.log.Sync)
	return nil
}

// waitSynced makes everything appended durable before the loop goes on:
// before it installs a snapshot or truncates (both reopen the log), and
// when the reign ends. It returns the last zxid now durable, 0 if nothing
// waited, for the caller to tell Zab (Persisted) when it may.
func (p *Peer) waitSynced(rs *reignState) (int64, error) {
	var last int64
	for rs.sync.busy() {
		rs.sync.kick(p.store.log.Sync)
		covered, err := rs.sync.synced(<-rs.sync.done)
		if err != nil {
			return 0, err
		}
		p.store.remember(covered)
		p.fsyncs.Add(1)
		p.fsyncTxns.Add(int64(len(covered)))
		last = covered[len(covered)-1].Zxid
	}
	return last, nil
}
