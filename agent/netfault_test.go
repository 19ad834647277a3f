package agent

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/testenv"
)

func TestNetFaultTable(t *testing.T) {
	if got := NetFaultTable("server-1.lab"); got != "zkbench-agent-server-1.lab" {
		t.Errorf("NetFaultTable = %q", got)
	}
	if got := NetFaultTable("a b/ü"); got != "zkbench-agent-a_b__" {
		t.Errorf("NetFaultTable = %q, want the odd runes replaced", got)
	}
	if got := NetFaultTable(strings.Repeat("x", 400)); len(got) > 255 {
		t.Errorf("NetFaultTable of a long name is %d bytes", len(got))
	}
}

func TestNetFaultPeers(t *testing.T) {
	ens := Ensemble{Servers: []ServerAddr{
		{ID: 1, Host: "198.18.0.11"}, {ID: 2, Host: "198.18.0.12"}, {ID: 3, Host: "198.18.0.13"},
	}}
	n := newNetFaults("s2", 2, ens)
	got, err := n.peerAddrs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("198.18.0.11"), netip.MustParseAddr("198.18.0.13")}
	if !slices.Equal(got, want) {
		t.Fatalf("peers %v, want %v", got, want)
	}
	// Servers sharing an address (one machine) cannot be partitioned by
	// address: refused, naming the host, before any rule is made.
	for _, ens := range []Ensemble{
		{Servers: []ServerAddr{{ID: 1, Host: "198.18.0.11"}, {ID: 2, Host: "198.18.0.11"}}},
		{Servers: []ServerAddr{{ID: 1, Host: "127.0.0.1"}, {ID: 2, Host: "127.0.0.2"}}},
	} {
		n := newNetFaults("s1", 1, ens)
		if _, err := n.peerAddrs(t.Context()); err == nil || !strings.Contains(err.Error(), "a host of its own") {
			t.Errorf("%v: %v, want a refusal", ens, err)
		}
		if err := n.apply(t.Context(), harness.Partition); err == nil {
			t.Errorf("%v: partition applied", ens)
		}
		if n.filter != nil {
			t.Errorf("%v: a refused partition opened a table", ens)
		}
	}
	// Heal before any partition does nothing; so does close.
	if err := n.apply(t.Context(), harness.Heal); err != nil {
		t.Errorf("heal without a partition: %v", err)
	}
	if err := n.close(); err != nil {
		t.Errorf("close without a partition: %v", err)
	}
	if err := n.apply(t.Context(), harness.Kill); err == nil {
		t.Error("kill accepted as a network fault")
	}
	for _, a := range []harness.Action{harness.Partition, harness.PartitionIn, harness.PartitionOut, harness.Heal} {
		if !IsNetFault(a) {
			t.Errorf("IsNetFault(%s) = false", a)
		}
	}
	if IsNetFault(harness.Kill) || IsNetFault(harness.Delay) {
		t.Error("kill or delay counted as a network fault an agent applies")
	}
}

// In a network namespace of its own (which dies with the test's thread),
// the agent's requests become its table's rules, one per peer and
// direction, and close removes them.
func TestNetFaultsApply(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "nftables rules need root")
	}
	ens := Ensemble{Servers: []ServerAddr{
		{ID: 1, Host: "198.18.0.11"}, {ID: 2, Host: "198.18.0.12"}, {ID: 3, Host: "198.18.0.13"},
	}}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread and its namespace die with this goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		errc <- netFaultsScenario(t, ens)
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func netFaultsScenario(t *testing.T, ens Ensemble) error {
	const name = "agent-under-test"
	table := NetFaultTable(name)
	rules := func() (in, out int, ok bool, err error) {
		c, err := nftables.New()
		if err != nil {
			return 0, 0, false, err
		}
		ts, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
		if err != nil {
			return 0, 0, false, err
		}
		i := slices.IndexFunc(ts, func(tb *nftables.Table) bool { return tb.Name == table })
		if i < 0 {
			return 0, 0, false, nil
		}
		for _, ch := range []string{"input", "output"} {
			rs, err := c.GetRules(ts[i], &nftables.Chain{Name: ch, Table: ts[i]})
			if err != nil {
				return 0, 0, true, err
			}
			if ch == "input" {
				in = len(rs)
			} else {
				out = len(rs)
			}
		}
		return in, out, true, nil
	}
	want := func(when string, wantIn, wantOut int, wantTable bool) error {
		in, out, ok, err := rules()
		if err != nil {
			return fmt.Errorf("%s: %w", when, err)
		}
		if in != wantIn || out != wantOut || ok != wantTable {
			return fmt.Errorf("%s: table %v with %d input and %d output rules, want %v, %d and %d", when, ok, in, out, wantTable, wantIn, wantOut)
		}
		return nil
	}
	if f := CheckNetFaults(name); !f.OK {
		return fmt.Errorf("CheckNetFaults as root: %+v", f)
	}
	ctx := t.Context()
	n := newNetFaults(name, 2, ens)
	steps := []struct {
		a       harness.Action
		in, out int
	}{
		{harness.PartitionIn, 2, 0}, {harness.Heal, 0, 0},
		{harness.PartitionOut, 0, 2}, {harness.Heal, 0, 0},
		{harness.Partition, 2, 2},
	}
	for _, st := range steps {
		if err := n.apply(ctx, st.a); err != nil {
			return fmt.Errorf("%s: %w", st.a, err)
		}
		if err := want(string(st.a), st.in, st.out, true); err != nil {
			return err
		}
	}
	if err := n.apply(ctx, harness.PartitionIn); err == nil {
		return errors.New("a second partition without a heal was applied")
	}
	if err := n.close(); err != nil {
		return err
	}
	if err := want("closed", 0, 0, false); err != nil {
		return err
	}
	// A killed agent's partition: the next agent of that name removes it
	// when it checks its host.
	stale := newNetFaults(name, 2, ens)
	if err := stale.apply(ctx, harness.Partition); err != nil {
		return err
	}
	if f := CheckNetFaults(name); !f.OK {
		return fmt.Errorf("CheckNetFaults over a stale table: %+v", f)
	}
	return want("after the check", 0, 0, false)
}
