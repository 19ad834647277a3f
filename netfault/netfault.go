package netfault

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// DefaultTable is the name of a Filter's table when Options.Table is empty.
const DefaultTable = "zkbench"

// Direction says which packets between this host and its peers a
// partition drops.
type Direction int

// The directions of a partition.
const (
	// Both drops what the peers send this host and what it sends them.
	Both Direction = iota
	// In drops what the peers send this host.
	In
	// Out drops what this host sends the peers.
	Out
)

// String returns "both", "in" or "out".
func (d Direction) String() string {
	switch d {
	case Both:
		return "both"
	case In:
		return "in"
	case Out:
		return "out"
	}
	return "direction(" + strconv.Itoa(int(d)) + ")"
}

// ParseDirection reads String's output.
func ParseDirection(s string) (Direction, error) {
	for _, d := range []Direction{Both, In, Out} {
		if s == d.String() {
			return d, nil
		}
	}
	return 0, fmt.Errorf("netfault: direction %q: want both, in or out", s)
}

// Options say where a Filter keeps its rules.
type Options struct {
	// Table is the name of the Filter's inet table (DefaultTable if
	// empty). Two Filters in one namespace need two names.
	Table string
	// NetNS, if nonzero, is an open file descriptor of the network
	// namespace to act in (e.g. of /run/netns/NAME); zero means the
	// caller's namespace.
	NetNS int
}

func (o Options) table() string {
	if o.Table == "" {
		return DefaultTable
	}
	return o.Table
}

func (o Options) conn() (*nftables.Conn, error) {
	var opts []nftables.ConnOption
	if o.NetNS != 0 {
		opts = append(opts, nftables.WithNetNSFd(o.NetNS))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("netfault: netlink: %w", err)
	}
	return c, nil
}

// Filter is one table of drop rules. Its methods are safe for concurrent
// use.
type Filter struct {
	mu     sync.Mutex
	conn   *nftables.Conn
	table  *nftables.Table
	input  *nftables.Chain
	output *nftables.Chain
	peers  []netip.Addr
	dir    Direction
	closed bool
}

// Open creates the Filter's table with its two empty chains, replacing a
// table of the same name if one is left over.
func Open(o Options) (*Filter, error) {
	c, err := o.conn()
	if err != nil {
		return nil, err
	}
	f := &Filter{conn: c, table: &nftables.Table{Name: o.table(), Family: nftables.TableFamilyINet}}
	accept := nftables.ChainPolicyAccept
	chain := func(name string, hook *nftables.ChainHook) *nftables.Chain {
		return &nftables.Chain{Name: name, Table: f.table, Hooknum: hook, Priority: nftables.ChainPriorityFilter, Type: nftables.ChainTypeFilter, Policy: &accept}
	}
	f.input, f.output = chain("input", nftables.ChainHookInput), chain("output", nftables.ChainHookOutput)
	stale, err := f.exists()
	if err != nil {
		return nil, explain(err)
	}
	if stale {
		c.DelTable(f.table)
	}
	c.AddTable(f.table)
	c.AddChain(f.input)
	c.AddChain(f.output)
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("netfault: create table inet %s: %w", f.table.Name, explain(err))
	}
	return f, nil
}

// exists reports whether the Filter's table is there.
func (f *Filter) exists() (bool, error) {
	ts, err := f.conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("netfault: list tables: %w", err)
	}
	return slices.ContainsFunc(ts, func(t *nftables.Table) bool { return t.Name == f.table.Name }), nil
}

// Table is the name of the Filter's table.
func (f *Filter) Table() string { return f.table.Name }

// Partition drops the packets between this host and peers that d names,
// in place of any earlier partition. The change is one atomic batch: on an
// error the rules in force are those of before the call.
func (f *Filter) Partition(peers []netip.Addr, d Direction) error {
	if d != Both && d != In && d != Out {
		return fmt.Errorf("netfault: partition: bad direction %v", d)
	}
	var clean []netip.Addr
	for _, p := range peers {
		p = p.Unmap()
		if !p.IsValid() {
			return errors.New("netfault: partition: invalid peer address")
		}
		if !slices.Contains(clean, p) {
			clean = append(clean, p)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("netfault: partition: filter closed")
	}
	f.conn.FlushChain(f.input)
	f.conn.FlushChain(f.output)
	for _, p := range clean {
		if d == Both || d == In {
			f.conn.AddRule(&nftables.Rule{Table: f.table, Chain: f.input, Exprs: dropAddr(p, true)})
		}
		if d == Both || d == Out {
			f.conn.AddRule(&nftables.Rule{Table: f.table, Chain: f.output, Exprs: dropAddr(p, false)})
		}
	}
	if err := f.conn.Flush(); err != nil {
		return fmt.Errorf("netfault: partition %s from %v: %w", d, clean, explain(err))
	}
	f.peers, f.dir = clean, d
	return nil
}

// Partitioned returns the peers of the partition in force (none after
// Heal) and its direction.
func (f *Filter) Partitioned() ([]netip.Addr, Direction) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.peers), f.dir
}

// Heal removes every rule: packets flow again. Healing a Filter with no
// partition does nothing.
func (f *Filter) Heal() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("netfault: heal: filter closed")
	}
	f.conn.FlushChain(f.input)
	f.conn.FlushChain(f.output)
	if err := f.conn.Flush(); err != nil {
		return fmt.Errorf("netfault: heal: %w", explain(err))
	}
	f.peers = nil
	return nil
}

// Close removes the Filter's table and with it every rule. It is
// idempotent, and a table already gone is not an error.
func (f *Filter) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed, f.peers = true, nil
	ok, err := f.exists()
	if err != nil || !ok {
		return err
	}
	f.conn.DelTable(f.table)
	if err := f.conn.Flush(); err != nil {
		return fmt.Errorf("netfault: remove table inet %s: %w", f.table.Name, explain(err))
	}
	return nil
}

// Remove deletes the table o names, if it exists, with its rules: what a
// process killed while it held a partition left behind.
func Remove(o Options) error {
	c, err := o.conn()
	if err != nil {
		return err
	}
	f := &Filter{conn: c, table: &nftables.Table{Name: o.table(), Family: nftables.TableFamilyINet}}
	ok, err := f.exists()
	if err != nil || !ok {
		return explain(err)
	}
	c.DelTable(f.table)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("netfault: remove table inet %s: %w", f.table.Name, explain(err))
	}
	return nil
}

// dropAddr is "ip saddr ADDR drop" (input) or "ip daddr ADDR drop"
// (output), for IPv4 or IPv6 as addr is.
func dropAddr(addr netip.Addr, input bool) []expr.Any {
	proto, off, n := byte(unix.NFPROTO_IPV4), uint32(12), uint32(4) // IPv4 saddr
	if addr.Is6() {
		proto, off, n = unix.NFPROTO_IPV6, 8, 16
	}
	if !input {
		off += n // daddr follows saddr in both headers
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr.AsSlice()},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

// ErrUnavailable is wrapped by Check's errors: nftables cannot be used here.
var ErrUnavailable = errors.New("netfault: nftables unavailable")

// Check reports whether a Filter can work in o's namespace: nil, or an
// error wrapping ErrUnavailable that says why not (not root and no
// CAP_NET_ADMIN; no netlink; no nf_tables in the kernel). It probes by
// creating and removing a table of its own ("<table>-probe-<pid>").
func Check(o Options) error {
	if err := checkCaps(os.Geteuid(), readStatus()); err != nil {
		return err
	}
	c, err := o.conn()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	probe := &nftables.Table{Name: fmt.Sprintf("%s-probe-%d", o.table(), os.Getpid()), Family: nftables.TableFamilyINet}
	accept := nftables.ChainPolicyAccept
	c.AddTable(probe)
	c.AddChain(&nftables.Chain{Name: "input", Table: probe, Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Type: nftables.ChainTypeFilter, Policy: &accept})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("%w: probe table: %v", ErrUnavailable, explain(err))
	}
	c.DelTable(probe)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("%w: remove probe table inet %s: %v", ErrUnavailable, probe.Name, explain(err))
	}
	return nil
}

// capNetAdmin is CAP_NET_ADMIN's bit in /proc/self/status's CapEff.
const capNetAdmin = 12

func readStatus() string {
	b, _ := os.ReadFile("/proc/self/status")
	return string(b)
}

// checkCaps refuses a process that is neither root nor holds CAP_NET_ADMIN
// in its effective set (status is /proc/self/status).
func checkCaps(euid int, status string) error {
	for _, line := range strings.Split(status, "\n") {
		v, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			break
		}
		if caps&(1<<capNetAdmin) != 0 {
			return nil
		}
		return fmt.Errorf("%w: this process (uid %d) lacks CAP_NET_ADMIN (effective capabilities %#x): run it as root or grant it cap_net_admin", ErrUnavailable, euid, caps)
	}
	if euid == 0 {
		return nil
	}
	return fmt.Errorf("%w: not root (uid %d) and its capabilities are unreadable", ErrUnavailable, euid)
}

// explain turns netlink's errors into what a person must do.
func explain(err error) error {
	switch {
	case errors.Is(err, syscall.EPERM), errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w (permission denied: needs root or CAP_NET_ADMIN in this network namespace)", err)
	case errors.Is(err, syscall.EPROTONOSUPPORT), errors.Is(err, syscall.EAFNOSUPPORT):
		return fmt.Errorf("%w (no nf_tables netlink in this kernel: load the nf_tables module)", err)
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EOPNOTSUPP):
		return fmt.Errorf("%w (the kernel lacks an nf_tables feature: inet family or filter hooks)", err)
	}
	return err
}
