package netfault

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/zkbench/zkbench/internal/testenv"
)

// pair is two network namespaces, a and b, joined by a veth pair with the
// addresses A and B (198.18.0.0/15, the benchmarking range): nothing they
// send can leave them.
type pair struct {
	a, b   string // namespace names (under /run/netns)
	A, B   netip.Addr
	fdA    int
	prefix string
}

// newPair creates the namespaces; cleanup deletes them (and so every
// rule, link and socket in them) even when the test fails.
func newPair(t *testing.T) *pair {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		testenv.Missing(t, "iproute2's ip: %v", err)
	}
	p := &pair{
		prefix: fmt.Sprintf("zkbnf%d", os.Getpid()),
		A:      netip.MustParseAddr("198.19.254.1"),
		B:      netip.MustParseAddr("198.19.254.2"),
	}
	p.a, p.b = p.prefix+"a", p.prefix+"b"
	del := func() {
		for _, ns := range []string{p.a, p.b} {
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
	}
	del() // a stale pair of a killed run with our pid
	t.Cleanup(func() {
		if p.fdA > 0 {
			unix.Close(p.fdA)
		}
		del()
		for _, ns := range []string{p.a, p.b} {
			if _, err := os.Stat("/run/netns/" + ns); err == nil {
				t.Errorf("namespace %s left behind", ns)
			}
		}
	})
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", p.a)
	run("netns", "add", p.b)
	run("-n", p.a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", p.b)
	run("-n", p.a, "addr", "add", p.A.String()+"/30", "dev", "veth0")
	run("-n", p.b, "addr", "add", p.B.String()+"/30", "dev", "veth1")
	for _, ns := range []string{p.a, p.b} {
		run("-n", ns, "link", "set", "lo", "up")
	}
	run("-n", p.a, "link", "set", "veth0", "up")
	run("-n", p.b, "link", "set", "veth1", "up")
	fd, err := unix.Open("/run/netns/"+p.a, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	p.fdA = fd
	return p
}

// in runs f on an OS thread inside namespace ns; sockets f creates stay
// in ns. The thread is never returned to the runtime's pool.
func in[T any](t *testing.T, ns string, f func() (T, error)) (T, error) {
	t.Helper()
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- res{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		v, err := f()
		ch <- res{v, err}
	}()
	r := <-ch
	return r.v, r.err
}

// listenTCP listens in ns on addr and accepts (and closes) forever.
func listenTCP(t *testing.T, ns string, addr netip.Addr) string {
	t.Helper()
	ln, err := in(t, ns, func() (net.Listener, error) { return net.Listen("tcp", net.JoinHostPort(addr.String(), "0")) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// dialTCP reports whether a TCP connection from ns to addr is set up
// within 700 ms.
func dialTCP(t *testing.T, ns, addr string) error {
	t.Helper()
	_, err := in(t, ns, func() (struct{}, error) {
		c, err := net.DialTimeout("tcp", addr, 700*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return struct{}{}, err
	})
	return err
}

// udpPath reports whether a datagram sent from ns "from" reaches a socket
// in ns "to" at toAddr.
func udpPath(t *testing.T, from, to string, toAddr netip.Addr) bool {
	t.Helper()
	rc, err := in(t, to, func() (*net.UDPConn, error) {
		return net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(toAddr, 0)))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	target := rc.LocalAddr().String()
	if _, err := in(t, from, func() (struct{}, error) {
		c, err := net.Dial("udp", target)
		if err != nil {
			return struct{}{}, err
		}
		defer c.Close()
		for range 3 {
			// A datagram the output chain drops fails here with EPERM.
			_, _ = c.Write([]byte("zkbench"))
		}
		return struct{}{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	rc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 64)
	n, _, err := rc.ReadFromUDP(buf)
	return err == nil && string(buf[:n]) == "zkbench"
}

func tables(t *testing.T, fd int) []string {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range ts {
		names = append(names, tb.Name)
	}
	return names
}

func TestPartitionDropsPackets(t *testing.T) {
	p := newPair(t)
	if err := Check(Options{NetNS: p.fdA}); err != nil {
		testenv.Missing(t, "nftables: %v", err)
	}
	f, err := Open(Options{NetNS: p.fdA})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	toB := listenTCP(t, p.b, p.B)
	toA := listenTCP(t, p.a, p.A)
	if err := dialTCP(t, p.a, toB); err != nil {
		t.Fatalf("before any partition, a -> b: %v", err)
	}

	if err := f.Partition([]netip.Addr{p.B}, Both); err != nil {
		t.Fatal(err)
	}
	if err := dialTCP(t, p.a, toB); err == nil {
		t.Fatal("partitioned both ways, a TCP connect from a to b succeeded")
	}
	if err := dialTCP(t, p.b, toA); err == nil {
		t.Fatal("partitioned both ways, a TCP connect from b to a succeeded")
	}
	if udpPath(t, p.a, p.b, p.B) || udpPath(t, p.b, p.a, p.A) {
		t.Fatal("partitioned both ways, a datagram got through")
	}
	if peers, d := f.Partitioned(); !slices.Equal(peers, []netip.Addr{p.B}) || d != Both {
		t.Fatalf("Partitioned = %v %v", peers, d)
	}

	// One way: only what the direction names is lost.
	if err := f.Partition([]netip.Addr{p.B}, In); err != nil {
		t.Fatal(err)
	}
	if !udpPath(t, p.a, p.b, p.B) {
		t.Error("partition in: a's datagram to b was dropped")
	}
	if udpPath(t, p.b, p.a, p.A) {
		t.Error("partition in: b's datagram reached a")
	}
	if err := f.Partition([]netip.Addr{p.B}, Out); err != nil {
		t.Fatal(err)
	}
	if udpPath(t, p.a, p.b, p.B) {
		t.Error("partition out: a's datagram reached b")
	}
	if !udpPath(t, p.b, p.a, p.A) {
		t.Error("partition out: b's datagram to a was dropped")
	}

	if err := f.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := dialTCP(t, p.a, toB); err != nil {
		t.Fatalf("healed, a -> b: %v", err)
	}
	if err := dialTCP(t, p.b, toA); err != nil {
		t.Fatalf("healed, b -> a: %v", err)
	}
	if !udpPath(t, p.a, p.b, p.B) || !udpPath(t, p.b, p.a, p.A) {
		t.Fatal("healed, a datagram was dropped")
	}
	if err := f.Heal(); err != nil {
		t.Fatalf("second heal: %v", err)
	}

	if !slices.Contains(tables(t, p.fdA), DefaultTable) {
		t.Fatalf("table %s missing while open: %v", DefaultTable, tables(t, p.fdA))
	}
	if err := f.Partition([]netip.Addr{p.B}, Both); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := tables(t, p.fdA); len(got) != 0 {
		t.Fatalf("tables left after Close: %v", got)
	}
	if err := dialTCP(t, p.a, toB); err != nil {
		t.Fatalf("closed while partitioned, a -> b: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := f.Partition([]netip.Addr{p.B}, Both); err == nil {
		t.Fatal("Partition after Close succeeded")
	}
}

// A process killed while partitioned leaves its table; the next Open of
// the same name removes it with its rules.
func TestOpenRemovesStaleTable(t *testing.T) {
	p := newPair(t)
	if err := Check(Options{NetNS: p.fdA}); err != nil {
		testenv.Missing(t, "nftables: %v", err)
	}
	toB := listenTCP(t, p.b, p.B)
	old, err := Open(Options{NetNS: p.fdA, Table: "zkbench-test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Partition([]netip.Addr{p.B}, Out); err != nil {
		t.Fatal(err)
	}
	// old is abandoned, as by kill -9.
	other, err := Open(Options{NetNS: p.fdA, Table: "other"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := dialTCP(t, p.a, toB); err == nil {
		t.Fatal("the abandoned partition does not hold (test broken)")
	}
	f, err := Open(Options{NetNS: p.fdA, Table: "zkbench-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := dialTCP(t, p.a, toB); err != nil {
		t.Fatalf("after Open replaced the stale table: %v", err)
	}
	got := tables(t, p.fdA)
	slices.Sort(got)
	if !slices.Equal(got, []string{"other", "zkbench-test"}) {
		t.Fatalf("tables = %v, want other and zkbench-test once each", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := tables(t, p.fdA); !slices.Equal(got, []string{"other"}) {
		t.Fatalf("Close removed %v, want only its own table gone", got)
	}
	for range 2 {
		if err := Remove(Options{NetNS: p.fdA, Table: "other"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := tables(t, p.fdA); len(got) != 0 {
		t.Fatalf("Remove left %v", got)
	}
}

func TestCheck(t *testing.T) {
	p := newPair(t)
	if err := Check(Options{NetNS: p.fdA}); err != nil {
		t.Fatalf("as root in a fresh namespace: %v", err)
	}
	if got := tables(t, p.fdA); len(got) != 0 {
		t.Fatalf("Check left tables: %v", got)
	}
}

func TestCheckCaps(t *testing.T) {
	for _, tc := range []struct {
		euid   int
		status string
		want   string // "" for nil
	}{
		{0, "Name:\tx\nCapEff:\t000001ffffffffff\n", ""},
		{1000, "CapEff:\t0000000000001000\n", ""},
		{1000, "CapEff:\t0000000000000000\n", "lacks CAP_NET_ADMIN"},
		{0, "CapEff:\t0000000000000400\n", "lacks CAP_NET_ADMIN"}, // root without it (a container)
		{1000, "", "not root"},
		{0, "", ""},
	} {
		err := checkCaps(tc.euid, tc.status)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("checkCaps(%d, %q) = %v, want nil", tc.euid, tc.status, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrUnavailable)):
			t.Errorf("checkCaps(%d, %q) = %v, want ErrUnavailable saying %q", tc.euid, tc.status, err, tc.want)
		}
	}
}

func TestDirection(t *testing.T) {
	for _, d := range []Direction{Both, In, Out} {
		if got, err := ParseDirection(d.String()); err != nil || got != d {
			t.Errorf("ParseDirection(%q) = %v, %v", d, got, err)
		}
	}
	if _, err := ParseDirection("sideways"); err == nil {
		t.Error("ParseDirection accepted sideways")
	}
}
