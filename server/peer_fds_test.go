package server_test

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/testenv"
	"github.com/zkbench/zkbench/internal/zktest"
)

// A leader out of file descriptors keeps its peer ports: accept on the
// election and quorum ports fails with EMFILE while connections hold every
// descriptor, the errors are logged and retried, and once the descriptors
// are back a restarted follower rejoins (it needs both ports). Before, the
// first EMFILE ended each accept loop for good.
func TestIntegrationPeerPortsSurviveFDExhaustion(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		testenv.Missing(t, "prlimit (util-linux) is needed to limit the server's descriptors: %v", err)
	}
	e := zktest.StartEnsemble(t, 3)
	li := e.Leader(10 * time.Second)
	if li < 0 {
		t.Fatal("no leader")
	}
	leader := e.Servers[li]
	pid := leader.PID()
	quorum, election := peerPorts(t, e, li)
	// The hard limit stays high enough to give descriptors back (raising
	// it again takes privileges).
	base := openFDs(t, pid)
	setLimit := func(soft int) {
		t.Helper()
		if out, err := exec.Command(prlimit, "--pid", fmt.Sprint(pid), fmt.Sprintf("--nofile=%d:%d", soft, base+256)).CombinedOutput(); err != nil {
			t.Fatalf("prlimit: %v\n%s", err, out)
		}
	}
	setLimit(base + 8)

	// Connections the leader cannot take: the election port's first,
	// which fill its descriptors, then the quorum port's.
	var held []net.Conn
	release := func() {
		for _, c := range held {
			c.Close()
		}
		held = nil
	}
	defer release()
	for _, addr := range []string{election, quorum} {
		for range 16 {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatalf("dial %s: %v", addr, err)
			}
			held = append(held, c)
		}
	}
	exhausted := func(addr string) bool {
		for _, line := range strings.Split(leader.LogText(leader.Starts()), "\n") {
			if strings.Contains(line, "too many open files") && strings.Contains(line, "addr="+addr) {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(10 * time.Second)
	for openFDs(t, pid) < base+8 {
		if !alive(pid) {
			t.Fatalf("the leader exited when it ran out of descriptors:\n%s", leader.LogText(leader.Starts()))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leader never used up its descriptors (limit %d, open %d)", base+8, openFDs(t, pid))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // a few retries, at the longest pause
	release()
	setLimit(base + 256)

	fi := (li + 1) % len(e.Servers)
	e.Servers[fi].Kill()
	e.Servers[fi].Start() // fails the test if it never serves
	if m := e.Mode(fi); m != "follower" {
		t.Fatalf("restarted server %d is %q, want follower", fi+1, m)
	}
	if m := e.Mode(li); m != "leader" {
		t.Fatalf("server %d is %q after running out of descriptors, want leader", li+1, m)
	}
	if !alive(pid) {
		t.Fatal("the leader exited")
	}
	if !exhausted(election) || !exhausted(quorum) {
		t.Errorf("the leader's log does not show EMFILE retried on both peer ports (election %v, quorum %v):\n%s",
			exhausted(election), exhausted(quorum), leader.LogText(leader.Starts()))
	}
}
