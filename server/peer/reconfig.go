package peer

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/server/prep"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
	"github.com/zkbench/zkbench/server/zab"
)

// Dynamic reconfiguration, as the peer sees it. The membership in force
// (p.members) changes when:
//   - a reconfig txn is applied (the committed COMMITANDACTIVATE upstream);
//   - a learner receives a newer membership with NEWLEADER;
//   - an epoch is established with reconfigEnabled and the membership
//     still has version 0: it takes the epoch's NEWLEADER zxid as its
//     version (upstream's ZOOKEEPER-1783 rule), so an established
//     configuration beats any joiner's initial one.
//
// Each change updates the election's voters, the election transport's
// peers, /zookeeper/config (unless the txn itself did), and, with
// reconfigEnabled, the dynamic configuration file beside zoo.cfg. Zab
// switches its own quorum when the reconfig entry commits (package zab).

// zabMembership is m as Zab counts it.
func zabMembership(m config.Members) zab.Membership {
	return zab.Membership{Voters: m.Voters(), Observers: m.Observers()}
}

// initMembers picks the starting membership: the configuration files', or
// the recovered /zookeeper/config when a replayed reconfig made it newer.
func (p *Peer) initMembers(t *tree.Tree) {
	p.members = p.cfg.Members()
	if m, ok := configNodeMembers(t); ok && m.Version > p.members.Version {
		p.log.Info("the recovered state holds a newer configuration than the files", "version", fmt.Sprintf("%x", m.Version))
		p.adoptMembers(m, "recovered", false)
		return
	}
	p.setConfigNode(t)
}

// syncConfigNode, after the state was replaced (SNAP, TRUNC), adopts the
// state's configuration if it is newer, or writes ours into it.
func (p *Peer) syncConfigNode(t *tree.Tree) {
	if m, ok := configNodeMembers(t); ok && m.Version > p.members.Version {
		p.adoptMembers(m, "installed state", false)
		return
	}
	p.setConfigNode(t)
}

// configNodeMembers parses /zookeeper/config of t.
func configNodeMembers(t *tree.Tree) (config.Members, bool) {
	data, _, err := t.GetData(tree.ConfigPath, nil)
	if err != nil || len(data) == 0 {
		return config.Members{}, false
	}
	m, err := config.ParseMembers(string(data))
	if err != nil || len(m.Servers) == 0 {
		return config.Members{}, false
	}
	return m, true
}

// setConfigNode puts the membership into /zookeeper/config as upstream
// does when a configuration takes effect without a txn
// (ZKDatabase.initConfigInZKDatabase): data version -1, mzxid the
// configuration's version.
func (p *Peer) setConfigNode(t *tree.Tree) {
	t.Apply(&proto.TxnHeader{Zxid: p.members.Version, Time: time.Now().UnixMilli(), Type: proto.OpSetData},
		&proto.SetDataTxn{Path: tree.ConfigPath, Data: []byte(p.members.String()), Version: -1})
}

// adoptMembers makes m the membership in force if it is newer. setNode
// says whether /zookeeper/config must be written (a reconfig txn already
// wrote it).
func (p *Peer) adoptMembers(m config.Members, why string, setNode bool) {
	if m.Version < p.members.Version || m.Version == p.members.Version && m.String() == p.members.String() {
		return
	}
	p.members = m
	p.cfg = p.cfg.WithMembers(m)
	if p.elect != nil {
		p.elect.SetMembership(m.Voters(), m.Observers())
	}
	if tr, ok := p.etr.(interface{ AddPeers(map[int64]string) }); ok {
		addrs := map[int64]string{}
		for id, s := range m.Servers {
			if id != p.id {
				addrs[id] = net.JoinHostPort(s.Host, strconv.Itoa(s.ElectionPort))
			}
		}
		tr.AddPeers(addrs)
	}
	if setNode {
		p.setConfigNode(p.tree.Load())
	}
	p.log.Info("configuration changed", "why", why, "version", fmt.Sprintf("%x", m.Version),
		"voters", m.Voters(), "observers", m.Observers(), "voter", m.IsVoter(p.id))
	if p.cfg.ReconfigEnabled && p.cfg.Path != "" {
		if path, err := config.WriteDynamic(p.cfg.Path, p.id, m); err != nil {
			p.log.Error("cannot store the new configuration", "err", err)
		} else {
			p.log.Info("stored the configuration", "file", path)
		}
	}
}

// pendingReconfig finds a reconfig entry logged after the applied state
// (proposed by a leader that did not see it commit): a leader starting
// with it must win quorums of both memberships.
func (p *Peer) pendingReconfig() *zab.Reconfig {
	after := p.lastApplied.Load()
	var found *zab.Reconfig
	for {
		ents, err := p.store.Entries(after, 1024)
		if err != nil || len(ents) == 0 {
			return found
		}
		for _, e := range ents {
			if m, ok := reconfigMembers(e.Data); ok {
				found = &zab.Reconfig{Zxid: e.Zxid, Next: zabMembership(m)}
			}
		}
		after = ents[len(ents)-1].Zxid
	}
}

// reconfigMembers decodes a logged txn and, if it is a reconfig, its new
// membership.
func reconfigMembers(data []byte) (config.Members, bool) {
	lt, err := proto.DecodeLoggedTxn(data)
	if err != nil || lt.Header.Type != proto.OpReconfig {
		return config.Members{}, false
	}
	sd, ok := lt.Body.(*proto.SetDataTxn)
	if !ok {
		return config.Members{}, false
	}
	m, err := config.ParseMembers(string(sd.Data))
	return m, err == nil
}

// ensembleView answers the prep stage's reconfig questions on the leader.
type ensembleView struct{ p *Peer }

var _ prep.Ensemble = ensembleView{}

// LastSeenMembers implements prep.Ensemble.
func (v ensembleView) LastSeenMembers() (config.Members, bool) {
	z := v.p.zab
	return v.p.members, z != nil && z.ReconfigPending()
}

// QuorumSynced implements prep.Ensemble.
func (v ensembleView) QuorumSynced(m config.Members) bool {
	z := v.p.zab
	return z != nil && z.QuorumSynced(zabMembership(m))
}
