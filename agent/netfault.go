package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/netfault"
)

// NetFaults says whether an agent's host can apply network faults
// (partitions with nftables) to its server, and why not.
type NetFaults struct {
	OK bool `json:"ok"`
	// Reason says why not when !OK (e.g. not root, no nf_tables).
	Reason string `json:"reason,omitempty"`
}

// NetFaultActions are the schedule actions a server agent carries out
// with nftables.
var NetFaultActions = []harness.Action{harness.Partition, harness.PartitionIn, harness.PartitionOut, harness.Heal}

// IsNetFault reports whether a is one of NetFaultActions.
func IsNetFault(a harness.Action) bool {
	for _, n := range NetFaultActions {
		if a == n {
			return true
		}
	}
	return false
}

// NetFaultTable is the nftables table (inet family) in which the agent
// called name keeps its partition rules.
func NetFaultTable(name string) string {
	clean := strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, name)
	return "zkbench-agent-" + clean[:min(len(clean), 200)]
}

// CheckNetFaults probes this host's nftables for the agent called name and
// removes the agent's table if a killed predecessor left one (with a
// partition in force).
func CheckNetFaults(name string) NetFaults {
	o := netfault.Options{Table: NetFaultTable(name)}
	if err := netfault.Check(o); err != nil {
		return NetFaults{Reason: err.Error()}
	}
	if err := netfault.Remove(o); err != nil {
		return NetFaults{Reason: err.Error()}
	}
	return NetFaults{OK: true}
}

// netFaults carries out one server's partition and heal requests: it drops
// the packets between this host and the other servers' hosts, and only
// those, so clients still reach the server, as with the harness's local
// partition. Its rules go when close is called (the run ended or aborted,
// or the agent's session was lost).
type netFaults struct {
	agent string
	self  string
	peers []string // the other servers' hosts, as the ensemble names them

	mu     sync.Mutex
	filter *netfault.Filter // opened at the first partition
}

func newNetFaults(agent string, id int, ens Ensemble) *netFaults {
	n := &netFaults{agent: agent}
	for _, s := range ens.Servers {
		if s.ID == id {
			n.self = s.Host
		} else {
			n.peers = append(n.peers, s.Host)
		}
	}
	return n
}

// peerAddrs resolves the peers' hosts and refuses any that is this host
// (its own address or loopback): dropping it would cut the host off from
// itself and from everything else on it.
func (n *netFaults) peerAddrs(ctx context.Context) ([]netip.Addr, error) {
	own := map[netip.Addr]bool{}
	if ifs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range ifs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				own[p.Addr().Unmap()] = true
			}
		}
	}
	resolve := func(host string) ([]netip.Addr, error) {
		if a, err := netip.ParseAddr(host); err == nil {
			return []netip.Addr{a.Unmap()}, nil
		}
		as, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("resolve server host %s: %w", host, err)
		}
		for i := range as {
			as[i] = as[i].Unmap()
		}
		return as, nil
	}
	selfAddrs, err := resolve(n.self)
	if err != nil {
		return nil, err
	}
	for _, a := range selfAddrs {
		own[a] = true
	}
	var out []netip.Addr
	for _, h := range n.peers {
		as, err := resolve(h)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.IsLoopback() || own[a] {
				return nil, fmt.Errorf("another server's host %s is this host's own address (%s): nftables partitions need each server on a host of its own (on one machine, use the harness's --peer-proxy)", h, a)
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// apply carries out a partition or heal request.
func (n *netFaults) apply(ctx context.Context, a harness.Action) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if a == harness.Heal {
		if n.filter == nil {
			return nil
		}
		return n.filter.Heal()
	}
	dir := map[harness.Action]netfault.Direction{harness.Partition: netfault.Both, harness.PartitionIn: netfault.In, harness.PartitionOut: netfault.Out}
	d, ok := dir[a]
	if !ok {
		return fmt.Errorf("%q is not a network fault", a)
	}
	peers, err := n.peerAddrs(ctx)
	if err != nil {
		return err
	}
	if n.filter == nil {
		f, err := netfault.Open(netfault.Options{Table: NetFaultTable(n.agent)})
		if err != nil {
			return err
		}
		n.filter = f
	}
	if cur, _ := n.filter.Partitioned(); len(cur) > 0 {
		return errors.New("already partitioned: heal first")
	}
	return n.filter.Partition(peers, d)
}

// close removes the rules and the table.
func (n *netFaults) close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.filter == nil {
		return nil
	}
	return n.filter.Close()
}
