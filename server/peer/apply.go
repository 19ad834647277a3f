package peer

import (
	"fmt"

	"github.com/zkbench/zkbench/server/clientconn"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/replica"
	"github.com/zkbench/zkbench/server/snap"
	"github.com/zkbench/zkbench/server/tree"
	"github.com/zkbench/zkbench/server/zab"
)

// applyEntry applies one committed txn: the replica (tree, sessions), the
// membership (reconfig), the prep overlay (leader), and the waiting client,
// if this server has it.
func (p *Peer) applyEntry(d *proto.Decoder, e zab.Entry, leader bool) {
	// e.Data is this server's own copy, never changed (the proposal it
	// made, or the packet it received): the tree may keep slices of it.
	d.ResetAliasing(e.Data)
	lt, err := proto.ReadLoggedTxn(d)
	if err != nil {
		// A committed txn this server cannot read: continuing would fork
		// this replica from the others.
		panic(fmt.Sprintf("peer: committed txn 0x%x does not decode: %v", e.Zxid, err))
	}
	res := p.replica.Apply(&lt.Header, lt.Body)
	if lt.Header.Type == proto.OpReconfig && res.Err == proto.ErrOK {
		if m, ok := reconfigMembers(e.Data); ok {
			p.adoptMembers(m, "reconfig committed", false)
		}
	}
	if leader {
		p.replica.PrepApplied()
	}
	k := reqKey{lt.Header.ClientID, lt.Header.Cxid}
	p.waitMu.Lock()
	done := p.waiters[k]
	delete(p.waiters, k)
	p.waitMu.Unlock()
	if done != nil {
		done(clientconn.WriteResult{Zxid: e.Zxid, Result: res})
	}
	if p.opts.OnApplied != nil {
		p.opts.OnApplied(e.Zxid)
	}
}

func (p *Peer) completeSync(tok []byte) {
	t, ok := decodeToken(tok)
	if !ok {
		return
	}
	p.waitMu.Lock()
	done := p.syncs[t]
	delete(p.syncs, t)
	p.waitMu.Unlock()
	if done != nil {
		done(proto.ErrOK)
	}
}

// snapshotSource serves SNAP syncs from the leader's applied state: it
// writes a real snapshot (which also serves recovery) and ships it in
// upstream's stream serialization (snapstream.go).
type snapshotSource struct{ p *Peer }

// Snapshot implements zab.Snapshotter.
func (s snapshotSource) Snapshot() (zab.Snapshot, error) {
	p := s.p
	zxid := p.replica.LastApplied()
	path, err := replica.WriteSnapshot(p.opts.SnapshotDir, p.replica.Tree(), p.replica.Sessions(), zxid)
	if err != nil {
		return zab.Snapshot{}, fmt.Errorf("peer: snapshot for a learner: %w", err)
	}
	data, err := encodeSnapStream(path)
	if err != nil {
		return zab.Snapshot{}, err
	}
	p.log.Info("sending a snapshot to a learner", "zxid", fmt.Sprintf("0x%x", zxid), "bytes", len(data))
	return zab.Snapshot{Zxid: zxid, Data: data}, nil
}

// installSnapshot replaces the state with a leader's snapshot: written
// durably as this server's newest snapshot first, then loaded; the log's
// older entries are dropped, since the snapshot supersedes them.
func (p *Peer) installSnapshot(s zab.Snapshot) error {
	h, nodes, err := decodeSnapStream(s.Data, s.Zxid)
	if err != nil {
		return err
	}
	path, err := snap.Write(p.opts.SnapshotDir, h, func(emit func(snap.Node) error) error {
		for _, n := range nodes {
			if err := emit(n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("peer: writing the leader's snapshot: %w", err)
	}
	r, err := snap.Open(path)
	if err != nil {
		return fmt.Errorf("peer: snapshot from the leader: %w", err)
	}
	defer r.Close()
	t, err := replica.RestoreTree(r)
	if err != nil {
		return fmt.Errorf("peer: loading the leader's snapshot: %w", err)
	}
	if err := p.store.reset(s.Zxid); err != nil {
		return err
	}
	p.replaceState(t, r.Header().Sessions)
	p.log.Info("installed the leader's snapshot", "zxid", fmt.Sprintf("0x%x", s.Zxid), "znodes", t.NodeCount())
	return nil
}

// truncate drops log entries after zxid; if the state already reflects
// some of them, it is rebuilt from disk.
func (p *Peer) truncate(zxid int64) error {
	if last := p.store.LastZxid(); last > zxid {
		// As upstream's learner, say so: txns this server logged are
		// being dropped.
		p.log.Warn("truncating the log to get in sync with the leader", "zxid", fmt.Sprintf("0x%x", zxid), "last_zxid", fmt.Sprintf("0x%x", last))
	}
	if err := p.store.truncate(zxid); err != nil {
		return err
	}
	if p.replica.LastApplied() <= zxid {
		return nil
	}
	t, sessions, err := p.opts.Rebuild()
	if err != nil {
		return fmt.Errorf("peer: rebuilding state after truncating to 0x%x: %w", zxid, err)
	}
	p.replaceState(t, sessions)
	p.log.Info("truncated the log and rebuilt the state", "zxid", fmt.Sprintf("0x%x", zxid))
	return nil
}

func (p *Peer) replaceState(t *tree.Tree, sessions map[int64]int32) {
	// The state came from the leader (SNAP) or the disk (TRUNC): put the
	// membership in force in it; the leader's own comes with NEWLEADER.
	p.setConfigNode(t)
	p.replica.Replace(t, sessions)
}
