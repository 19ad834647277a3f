package server_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

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

// procStatusKB reads a "<field>: N kB" line of /proc/<pid>/status (VmRSS,
// VmHWM, ...).
func procStatusKB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading the status of %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("%s of %d: %q: %v", field, pid, line, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in the status of %d", field, pid)
	return 0
}

// A multiRead of 100 getData of a 1 MB znode asks for a 100 MB reply.
// Upstream sends it and its client, whose jute.maxbuffer is 1 MB, drops
// the connection on the packet's length; the request fails with a
// connection loss. zkserver refuses to build the reply and closes the
// connection: its peak memory does not move, and it goes on serving.
func TestIntegrationOversizedMultiReadRefused(t *testing.T) {
	p := zktest.StartProcess(t)
	pid := p.PID()
	c := connect(t, p.Addr)
	if _, err := c.Create("/big", make([]byte, 1_000_000), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /big: %v", err)
	}
	raw, err := zktest.DialRaw(p.Addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Conn().Close()
	hwm := procStatusKB(t, pid, "VmHWM")
	mr := &proto.MultiRequest{}
	for range 100 {
		mr.Ops = append(mr.Ops, proto.NewMultiOp(proto.OpGetData, &proto.GetDataRequest{Path: "/big"}))
	}
	_, err = raw.Do(proto.OpMultiRead, mr, &proto.MultiResponse{})
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("multiRead of 100 MB: %v, want the connection closed", err)
	}
	grew := procStatusKB(t, pid, "VmHWM") - hwm
	t.Logf("peak RSS (VmHWM) grew by %d kB", grew)
	if grew > 32<<10 {
		t.Fatalf("zkserver's peak RSS grew by %d MB answering the multiRead", grew>>10)
	}
	if !strings.Contains(p.LogText(1), "reply larger than jute.maxbuffer") {
		t.Errorf("the log does not say why the connection was closed:\n%s", p.LogText(1))
	}
	if _, st, err := c.Get("/big"); err != nil || st.DataLength != 1_000_000 {
		t.Fatalf("get /big after the refusal: %v %v", st, err)
	}
}

// A client that pipelines requests and never reads the replies costs the
// server a bounded amount of memory: it stops reading that connection
// while the queued replies are above the cap.
func TestIntegrationRSSBoundedUnderNonReadingClient(t *testing.T) {
	p := zktest.StartProcess(t)
	pid := p.PID()
	c := connect(t, p.Addr)
	value := make([]byte, 100_000)
	if _, err := c.Create("/v", value, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /v: %v", err)
	}
	base := procStatusKB(t, pid, "VmRSS")

	nc, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.(*net.TCPConn).SetReadBuffer(16 << 10)
	req := proto.AppendFrame(nil, &proto.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)})
	const n = 5000 // 500 MB of replies
	for i := range n {
		req = proto.AppendRequest(req, proto.RequestHeader{Xid: int32(i + 1), Type: proto.OpGetData}, &proto.GetDataRequest{Path: "/v"})
	}
	go nc.Write(req) // blocks once zkserver stops reading
	peak := base
	for range 60 {
		time.Sleep(50 * time.Millisecond)
		peak = max(peak, procStatusKB(t, pid, "VmRSS"))
	}
	t.Logf("VmRSS %d MB before, peak %d MB while the client does not read", base>>10, peak>>10)
	if grew := peak - base; grew > 48<<10 {
		t.Fatalf("zkserver's RSS grew by %d MB under a client that does not read", grew>>10)
	}
	nc.Close()
	if _, _, err := c.Get("/v"); err != nil {
		t.Fatalf("get /v afterwards: %v", err)
	}
}
