package server_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/testenv"
	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server/proto"
)

// Resource limits with real processes (issue 16, items 2 and 3).

// openFDs counts the file descriptors process pid has open.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("reading the fds of %d: %v", pid, err)
	}
	return len(ents)
}

// alive reports whether process pid still runs.
func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// A zkserver out of file descriptors keeps its client port: accept fails
// with EMFILE while clients hold every descriptor, the error is logged and
// retried, and once the clients go the server accepts and serves again.
func TestIntegrationAcceptSurvivesFDExhaustion(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		testenv.Missing(t, "prlimit (util-linux) is needed to limit the server's descriptors: %v", err)
	}
	p := zktest.StartProcess(t)
	pid := p.PID()
	limit := openFDs(t, pid) + 8
	if out, err := exec.Command(prlimit, "--pid", fmt.Sprint(pid), fmt.Sprintf("--nofile=%d:%d", limit, limit)).CombinedOutput(); err != nil {
		t.Fatalf("prlimit: %v\n%s", err, out)
	}

	// Hold more connections than the server has descriptors left. The
	// kernel completes the handshakes; the server's accept fails.
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 24 {
		c, err := net.DialTimeout("tcp", p.Addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		held = append(held, c)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.LogText(1), "too many open files") {
		if !alive(pid) {
			t.Fatalf("zkserver exited when it ran out of descriptors:\n%s", p.LogText(1))
		}
		if time.Now().After(deadline) {
			t.Fatalf("zkserver never reported running out of descriptors (limit %d); log:\n%s", limit, p.LogText(1))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // a few retries, at the longest pause
	if !alive(pid) {
		t.Fatalf("zkserver exited while out of descriptors:\n%s", p.LogText(1))
	}

	for _, c := range held {
		c.Close()
	}
	held = nil
	// The server frees the descriptors as it sees the clients go, then
	// takes the connections still queued, and a new client is served.
	deadline = time.Now().Add(15 * time.Second)
	for {
		raw, err := zktest.DialRaw(p.Addr, 3*time.Second)
		if err == nil {
			var ex proto.ExistsResponse
			h, err := raw.Do(proto.OpExists, &proto.ExistsRequest{Path: "/zookeeper"}, &ex)
			raw.Close()
			if err != nil || h.Err != proto.ErrOK {
				t.Fatalf("exists after the descriptors came back: %+v %v", h, err)
			}
			break
		}
		if !alive(pid) {
			t.Fatalf("zkserver exited:\n%s", p.LogText(1))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session once descriptors were free: %v; log:\n%s", err, p.LogText(1))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := zktest.FourLetterWord(p.Addr, "ruok", 5*time.Second); err != nil || out != "imok" {
		t.Fatalf("ruok after recovery: %q %v", out, err)
	}
}
