package txnprep

import (
	"strconv"
	"strings"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/quorum"
	"github.com/zkbench/zkbench/server/tree"
)

// Leader is what the reconfig op needs to know from the ensemble's
// leader.
type Leader interface {
	// LastSeenMembers returns the newest membership: the one in force,
	// or one proposed and not committed yet (inProgress).
	LastSeenMembers() (m quorum.Members, inProgress bool)
	// QuorumSynced reports whether the leader and the learners it has
	// synced hold a quorum of m's voters.
	QuorumSynced(m quorum.Members) bool
}

// prepareReconfig turns a reconfig request into the txn that replaces
// /zookeeper/config, checking what upstream's PrepRequestProcessor checks,
// in its order. The new membership's version is the txn's zxid.
func (p *Preparer) prepareReconfig(req *proto.Request, r *proto.ReconfigRequest, hdr *proto.TxnHeader) (proto.Record, error) {
	if !p.opts.ReconfigEnabled {
		return nil, proto.ErrReconfigDisabled
	}
	ens := p.opts.Leader
	if ens == nil {
		return nil, proto.ErrUnimplemented // standalone
	}
	last, inProgress := ens.LastSeenMembers()
	if inProgress {
		return nil, proto.ErrReconfigInProgress
	}
	if r.CurConfigID != -1 && r.CurConfigID != last.Version {
		return nil, proto.ErrBadVersion
	}
	next, err := nextMembers(last, r)
	if err != nil {
		return nil, err
	}
	next.Version = hdr.Zxid
	voters := len(next.Voters())
	if p.opts.StandaloneEnabled && voters < 2 || voters < 1 {
		return nil, proto.ErrBadArguments
	}
	if !ens.QuorumSynced(next) {
		return nil, proto.ErrNewConfigNoQuorum
	}
	node, err := p.lookup(tree.ConfigPath)
	if err != nil {
		return nil, err
	}
	if err := p.checkACL(node.ACL, proto.PermWrite, req.Auth); err != nil {
		return nil, err
	}
	data := []byte(next.String())
	node.Stat.Version = -1
	node.Stat.Mtime = hdr.Time
	node.Stat.Mzxid = hdr.Zxid
	node.Stat.DataLength = int32(len(data))
	p.record(tree.ConfigPath, hdr.Zxid, &node)
	return &proto.SetDataTxn{Path: tree.ConfigPath, Data: data, Version: -1}, nil
}

// nextMembers computes the requested membership: the new member list when
// one is given, otherwise last with the leaving servers removed and the
// joining ones added or replaced. Malformed input is BADARGUMENTS.
func nextMembers(last quorum.Members, r *proto.ReconfigRequest) (quorum.Members, error) {
	if r.NewMembers != nil {
		if strings.TrimSpace(*r.NewMembers) == "" {
			// Upstream fails on an empty list with a runtime exception,
			// which it reports as MARSHALLINGERROR.
			return quorum.Members{}, proto.ErrMarshallingError
		}
		m, err := quorum.ParseMembers(*r.NewMembers)
		if err != nil || len(m.Servers) == 0 {
			return quorum.Members{}, proto.ErrBadArguments
		}
		return m, nil
	}
	next := quorum.Members{Servers: map[int64]quorum.Server{}}
	for id, s := range last.Servers {
		next.Servers[id] = s
	}
	for _, leaving := range splitList(r.LeavingServers) {
		id, err := strconv.ParseInt(leaving, 10, 64)
		if err != nil {
			return quorum.Members{}, proto.ErrMarshallingError // a NumberFormatException upstream
		}
		delete(next.Servers, id)
	}
	for _, joining := range splitList(r.JoiningServers) {
		key, value, ok := strings.Cut(joining, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || strings.Contains(value, "=") {
			return quorum.Members{}, proto.ErrBadArguments // "Wrong format of server string"
		}
		idText := key[strings.LastIndexByte(key, '.')+1:]
		if _, err := strconv.ParseInt(idText, 10, 64); err != nil {
			return quorum.Members{}, proto.ErrMarshallingError // a NumberFormatException upstream
		}
		s, err := quorum.ParseServerLine("server."+idText, value)
		if err != nil || s.ClientPort == 0 {
			// Upstream wants quorum, election and client ports.
			return quorum.Members{}, proto.ErrBadArguments
		}
		for id, o := range next.Servers {
			if id != s.ID && s.ConflictsWith(o) {
				return quorum.Members{}, proto.ErrBadArguments // "Reconfiguration failed"
			}
		}
		// A server listed again replaces its earlier entry, as upstream.
		next.Servers[s.ID] = s
	}
	return next, nil
}

// splitList splits a comma-separated list as upstream's StringUtils.split
// does: blanks trimmed, empty items dropped.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
