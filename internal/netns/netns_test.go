package netns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/testenv"
)

// newLab creates a lab of these hosts for the test and removes it at
// cleanup, after removing the labs of killed test processes.
func newLab(t *testing.T, hosts ...string) *Lab {
	t.Helper()
	if err := Check(); err != nil {
		testenv.Missing(t, "%v", err)
	}
	ctx := context.Background()
	if err := RemoveStale(ctx, "zkbt"); err != nil {
		t.Fatal(err)
	}
	l, err := Create(ctx, Options{Name: OwnedName("zkbt"), Hosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Remove(ctx, l.Name); err != nil {
			t.Error(err)
		}
	})
	return l
}

func host(t *testing.T, l *Lab, name string) Host {
	t.Helper()
	h, ok := l.Host(name)
	if !ok {
		t.Fatalf("lab %s has no host %s: %+v", l.Name, name, l.Hosts)
	}
	return h
}

// waitIn waits until pid runs in namespace ns (`ip netns exec` enters it
// after the start).
func waitIn(t *testing.T, ns string, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		pids, err := Processes(ns)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(pids, pid) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes in %s: %v, want %d", ns, pids, pid)
		}
	}
}

// Hosts of a lab reach each other at their addresses, and nothing else:
// not the machine's loopback, not an address outside the lab.
func TestLabHostsReachEachOtherOnly(t *testing.T) {
	l := newLab(t, "a", "b", "c")
	want := []string{"198.18.0.1/24", "198.18.0.2/24", "198.18.0.3/24"}
	for i, h := range l.Hosts {
		if h.Addr.String() != want[i] || h.Namespace != l.Name+"."+h.Name {
			t.Fatalf("host %d: %+v, want address %s", i, h, want[i])
		}
	}
	o, err := Open(l.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Hosts, l.Hosts) {
		t.Fatalf("Open: %+v, want %+v", o.Hosts, l.Hosts)
	}

	// A listener on a, and one on the machine's own loopback.
	var ln net.Listener
	a, b := host(t, l, "a"), host(t, l, "b")
	if err := a.Do(func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(a.Addr.Addr(), 0).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hello from a"))
			c.Close()
		}
	}()
	outside, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer outside.Close()

	dial := func(addr string) (string, error) {
		var got string
		err := b.Do(func() error {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 64)
			n, _ := c.Read(buf)
			got = string(buf[:n])
			return nil
		})
		return got, err
	}
	if got, err := dial(ln.Addr().String()); err != nil || got != "hello from a" {
		t.Fatalf("b dialling a at %s: %q, %v", ln.Addr(), got, err)
	}
	if _, err := dial(outside.Addr().String()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("b dialling the machine's %s: %v, want connection refused (b's own loopback)", outside.Addr(), err)
	}
	if _, err := dial("198.19.255.1:80"); !errors.Is(err, syscall.ENETUNREACH) {
		t.Fatalf("b dialling outside its lab: %v, want network unreachable", err)
	}
	// The test's own thread is back in the machine's namespace.
	if c, err := net.Dial("tcp", outside.Addr().String()); err != nil {
		t.Fatalf("after Do: %v", err)
	} else {
		c.Close()
	}
}

// A process started on a host is listed there and has the host's name;
// removing the lab kills it and deletes every namespace, and removing it
// again is no error.
func TestRemoveKillsProcessesAndIsIdempotent(t *testing.T) {
	l := newLab(t, "x", "y")
	x := host(t, l, "x")
	cmd := x.Command(context.Background(), "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	waitIn(t, x.Namespace, cmd.Process.Pid)
	if out, err := x.Command(context.Background(), "hostname").Output(); err != nil || string(out) != "x\n" {
		t.Errorf("host name on x: %q, %v", out, err)
	}
	if err := Remove(context.Background(), l.Name); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		if !strings.Contains(err.Error(), "killed") {
			t.Fatalf("sleep ended with %v, want killed", err)
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("sleep outlived its lab")
	}
	for _, ns := range []string{l.Name, x.Namespace, l.Name + ".y"} {
		if _, err := os.Stat(filepath.Join(runDir, ns)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s after Remove: %v", ns, err)
		}
	}
	if _, err := Open(l.Name); !errors.Is(err, ErrNoLab) {
		t.Fatalf("Open after Remove: %v, want ErrNoLab", err)
	}
	if err := Remove(context.Background(), l.Name); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
}

// Creating a lab under a taken name replaces the old one; RemoveStale
// removes labs of dead owners and keeps the living's.
func TestCreateReplacesAndRemoveStale(t *testing.T) {
	l := newLab(t, "p")
	ctx := context.Background()
	sleeper := host(t, l, "p").Command(ctx, "sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleeper.Process.Kill()
	waitIn(t, l.Hosts[0].Namespace, sleeper.Process.Pid)
	l2, err := Create(ctx, Options{Name: l.Name, Hosts: []string{"q", "r"}, Subnet: netip.MustParsePrefix("198.19.4.0/30")})
	if err != nil {
		t.Fatal(err)
	}
	if err := sleeper.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("the old lab's process: %v, want killed", err)
	}
	o, err := Open(l.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Hosts) != 2 || o.Hosts[0].Name != "q" || o.Hosts[1].Addr.String() != "198.19.4.2/30" || !slices.Equal(o.Hosts, l2.Hosts) {
		t.Fatalf("replaced lab: %+v", o.Hosts)
	}

	// A lab whose owner (PID 2^22+1: above pid_max's ceiling) is gone.
	stale, err := Create(ctx, Options{Name: "zkbt-4194305-dead", Hosts: []string{"s"}})
	if err != nil {
		t.Fatal(err)
	}
	defer Remove(ctx, stale.Name)
	if err := RemoveStale(ctx, "zkbt"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(stale.Name); !errors.Is(err, ErrNoLab) {
		t.Errorf("stale lab: %v, want removed", err)
	}
	if _, err := Open(l.Name); err != nil {
		t.Errorf("this process's lab: %v, want kept", err)
	}
}

// Bad options are refused before anything is made.
func TestCreateRefusesBadOptions(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Name: "Bad.Name", Hosts: []string{"a"}}, `lab name "Bad.Name"`},
		{Options{Name: "ok", Hosts: []string{"a.b"}}, `host name "a.b"`},
		{Options{Name: "ok", Hosts: []string{"a", "a"}}, `host "a" named twice`},
		{Options{Name: "ok"}, "no hosts"},
		{Options{Name: "ok", Hosts: []string{"a"}, Subnet: netip.MustParsePrefix("10.0.0.0/24")}, "want an IPv4 subnet of 198.18.0.0/15"},
		{Options{Name: "ok", Hosts: []string{"a"}, Subnet: netip.MustParsePrefix("198.0.0.0/8")}, "want an IPv4 subnet of 198.18.0.0/15"},
		{Options{Name: "ok", Hosts: []string{"a", "b", "c"}, Subnet: netip.MustParsePrefix("198.18.0.0/30")}, "3 hosts do not fit in 198.18.0.0/30 (at most 2)"},
	} {
		_, err := Create(ctx, tc.o)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}

// A host with a CPU limit runs what Command starts in its cgroup: a busy
// loop there gets no more than its share; Open reads the limit back.
func TestHostCPULimit(t *testing.T) {
	if err := Check(); err != nil {
		testenv.Missing(t, "%v", err)
	}
	ctx := context.Background()
	l, err := Create(ctx, Options{Name: OwnedName("zkbt"), Hosts: []string{"small", "big"}, CPU: map[string]float64{"small": 0.2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Remove(ctx, l.Name) })
	small := host(t, l, "small")
	if o, err := Open(l.Name); err != nil || o.Hosts[0].CPU != 0.2 || o.Hosts[1].CPU != 0 {
		t.Fatalf("Open: %+v, %v; want small limited to 0.2 cores, big unlimited", o, err)
	}
	loop := small.Command(ctx, "sh", "-c", "while :; do :; done")
	if err := loop.Start(); err != nil {
		t.Fatal(err)
	}
	defer loop.Process.Kill()
	time.Sleep(100 * time.Millisecond)
	cpu := func() time.Duration {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(loop.Process.Pid), "stat"))
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
		ut, _ := strconv.Atoi(f[11])
		st, _ := strconv.Atoi(f[12])
		return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ
	}
	start, t0 := cpu(), time.Now()
	time.Sleep(time.Second)
	used, wall := cpu()-start, time.Since(t0)
	cg, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(loop.Process.Pid), "cgroup"))
	t.Logf("a busy loop on a 0.2-core host used %v of CPU in %v", used, wall.Round(time.Millisecond))
	if !strings.Contains(string(cg), "/"+small.Namespace+"\n") {
		t.Errorf("the loop's cgroups:\n%s\nwant %s", cg, small.Namespace)
	}
	if used > wall*3/10 || used < wall/20 {
		t.Errorf("the loop used %v of CPU in %v, want about 0.2 cores' worth", used, wall)
	}
	if err := Remove(ctx, l.Name); err != nil {
		t.Fatal(err)
	}
	root, _, _ := cpuRoot()
	if _, err := os.Stat(filepath.Join(root, small.Namespace)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup after Remove: %v", err)
	}
}
