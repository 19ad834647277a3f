package peer

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/zkbench/zkbench/server/prep"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/serve"
	"github.com/zkbench/zkbench/server/snap"
	"github.com/zkbench/zkbench/server/tree"
	"github.com/zkbench/zkbench/server/zab"
)

// applyEntry applies one committed txn: the tree, the session table, the
// prep overlay (leader), and the waiting client, if this server has it.
func (p *Peer) applyEntry(e zab.Entry, leader bool) {
	lt, err := proto.DecodeLoggedTxn(e.Data)
	if err != nil {
		// A committed txn this server cannot read: continuing would fork
		// this replica from the others.
		panic(fmt.Sprintf("peer: committed txn 0x%x does not decode: %v", e.Zxid, err))
	}
	t := p.tree.Load()
	res := t.Apply(&lt.Header, lt.Body)
	p.lastApplied.Store(e.Zxid)
	switch lt.Header.Type {
	case proto.OpCreateSession:
		if cs, ok := lt.Body.(*proto.CreateSessionTxn); ok {
			p.sessMu.Lock()
			p.live[lt.Header.ClientID] = cs.TimeOut
			p.sessions.Add(lt.Header.ClientID, cs.TimeOut, time.Now().UnixMilli())
			p.sessMu.Unlock()
		}
	case proto.OpReconfig:
		if res.Err == proto.ErrOK {
			if m, ok := reconfigMembers(e.Data); ok {
				p.adoptMembers(m, "reconfig committed", false)
			}
		}
	case proto.OpCloseSession:
		p.sessMu.Lock()
		delete(p.live, lt.Header.ClientID)
		p.sessions.Remove(lt.Header.ClientID)
		p.sessMu.Unlock()
		if p.closer != nil {
			p.closer.CloseSession(lt.Header.ClientID)
		}
	}
	if leader {
		p.prep.Applied(e.Zxid)
	}
	k := reqKey{lt.Header.ClientID, lt.Header.Cxid}
	p.waitMu.Lock()
	done := p.waiters[k]
	delete(p.waiters, k)
	p.waitMu.Unlock()
	if done != nil {
		done(serve.WriteResult{Zxid: e.Zxid, Result: res})
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
// writes a real snapshot (which also serves recovery) and ships its bytes.
type snapshotSource struct{ p *Peer }

// Snapshot implements zab.Snapshotter.
func (s snapshotSource) Snapshot() (zab.Snapshot, error) {
	p := s.p
	zxid := p.lastApplied.Load()
	p.sessMu.Lock()
	sessions := make(map[int64]int32, len(p.live))
	for id, to := range p.live {
		sessions[id] = to
	}
	p.sessMu.Unlock()
	t := p.tree.Load()
	path, err := snap.Write(p.opts.SnapshotDir, snap.Header{Zxid: zxid, Sessions: sessions, ACLs: t.ACLCache()},
		func(emit func(snap.Node) error) error {
			return t.Walk(func(n tree.NodeRecord) error {
				return emit(snap.Node{Path: n.Path, Data: n.Data, ACLRef: n.ACLRef, Stat: n.Stat})
			})
		})
	if err != nil {
		return zab.Snapshot{}, fmt.Errorf("peer: snapshot for a learner: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return zab.Snapshot{}, fmt.Errorf("peer: %w", err)
	}
	p.log.Info("sending a snapshot to a learner", "zxid", fmt.Sprintf("0x%x", zxid), "bytes", len(data))
	return zab.Snapshot{Zxid: zxid, Data: data}, nil
}

// installSnapshot replaces the state with a leader's snapshot: written
// durably as this server's newest snapshot first, then loaded; the log's
// older entries are dropped, since the snapshot supersedes them.
func (p *Peer) installSnapshot(s zab.Snapshot) error {
	path := filepath.Join(p.opts.SnapshotDir, snap.Name(s.Zxid))
	if err := writeFileDurably(path, s.Data); err != nil {
		return err
	}
	r, err := snap.Open(path)
	if err != nil {
		return fmt.Errorf("peer: snapshot from the leader: %w", err)
	}
	defer r.Close()
	h := r.Header()
	t, err := tree.Restore(h.ACLs, func() (tree.NodeRecord, bool, error) {
		n, ok, err := r.Next()
		if err != nil || !ok {
			return tree.NodeRecord{}, ok, err
		}
		return tree.NodeRecord{Path: n.Path, Data: n.Data, ACLRef: n.ACLRef, Stat: n.Stat}, true, nil
	}, s.Zxid)
	if err != nil {
		return fmt.Errorf("peer: loading the leader's snapshot: %w", err)
	}
	if err := p.store.reset(s.Zxid); err != nil {
		return err
	}
	p.replaceState(t, h.Sessions)
	p.log.Info("installed the leader's snapshot", "zxid", fmt.Sprintf("0x%x", s.Zxid), "znodes", t.NodeCount())
	return nil
}

// truncate drops log entries after zxid; if the state already reflects
// some of them, it is rebuilt from disk.
func (p *Peer) truncate(zxid int64) error {
	if err := p.store.truncate(zxid); err != nil {
		return err
	}
	if p.lastApplied.Load() <= zxid {
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
	p.tree.Store(t)
	p.lastApplied.Store(t.LastZxid())
	now := time.Now().UnixMilli()
	p.sessMu.Lock()
	for id := range p.live {
		p.sessions.Remove(id)
	}
	p.live = map[int64]int32{}
	for id, to := range sessions {
		p.live[id] = to
		p.sessions.Add(id, to, now)
	}
	p.sessMu.Unlock()
}

// treeStore gives the prep stage the current tree.
type treeStore struct{ p *Peer }

func (s treeStore) Lookup(path string) (prep.Node, bool) {
	info, ok := s.p.tree.Load().Lookup(path)
	if !ok {
		return prep.Node{}, false
	}
	return prep.Node{Stat: info.Stat, ACL: info.ACL}, true
}

func (s treeStore) SessionEphemerals(id int64) []string {
	return s.p.tree.Load().SessionEphemerals(id)
}

// QuotaFor reads the current tree's quotas (prep.Quotas).
func (s treeStore) QuotaFor(path string) (tree.Quota, bool) {
	return s.p.tree.Load().QuotaFor(path)
}
