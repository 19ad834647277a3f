package zktest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/testenv"
	"github.com/zkbench/zkbench/internal/zkbin"
)

// JavaClasspath is the class path that runs Debian's upstream ZooKeeper
// with its log going to log4j, as zkbin knows it.
var JavaClasspath = zkbin.DebianJars(zkbin.LogLog4j)

// ErrNoJava explains how to get upstream ZooKeeper when it is missing.
var ErrNoJava = zkbin.ErrJavaMissing

// JavaAvailable reports whether upstream Java ZooKeeper can be started:
// zkbin.FindJava, the one probe.
func JavaAvailable() error {
	_, err := zkbin.FindJava(zkbin.LogLog4j)
	return err
}

// RequireJava skips the test, loudly, when Java ZooKeeper is missing. In CI
// (CI=true) a missing Java ZooKeeper is a failure, never a skip.
func RequireJava(t testing.TB) {
	t.Helper()
	if err := JavaAvailable(); err != nil {
		testenv.Missing(t, "%v", err)
	}
}

// Server is a running server a test started.
type Server struct {
	Addr string // client address, host:port
	Dir  string // its data directory
	PID  int    // 0 for an in-process server
	proc *Process
}

// FreePort returns a loopback TCP port that was free a moment ago, from
// harness's port picker, one per test binary: ports come from below the
// kernel's ephemeral range (which starts at 32768 by default), so outgoing
// client connections cannot take one between this check and the server's
// bind, and each is handed out once per test binary.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := ports.Pick()
	if err != nil {
		t.Fatalf("zktest: %v", err)
	}
	return port
}

// ports is the test binary's one picker, so that no two tests get a port.
var ports = harness.NewPortPicker()

// StartJava starts a standalone upstream ZooKeeper with extra zoo.cfg lines
// and waits until it answers.
func StartJava(t testing.TB, extra ...string) *Server {
	t.Helper()
	RequireJava(t)
	dir, cfgPath, addr := standaloneConfig(t, true, extra)
	p := NewProcess(t, true, cfgPath, addr)
	p.Launch()
	if err := WaitServing(addr, 30*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		t.Fatalf("zktest: java zookeeper did not start: %v\n%s", err, tail(log, 3000))
	}
	return &Server{Addr: addr, Dir: dir, PID: p.PID(), proc: p}
}

// standaloneConfig writes a standalone zoo.cfg, with extra lines, into a
// new directory on a free port, and returns the directory, the file and
// the client address. Both get admin.enableServer=false (upstream's
// AdminServer, on by default at port 8080 in both, would be contended for).
func standaloneConfig(t testing.TB, java bool, extra []string) (dir, cfgPath, addr string) {
	t.Helper()
	dir = t.TempDir()
	port := FreePort(t)
	text := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n",
		filepath.Join(dir, "data"), port)
	text += "admin.enableServer=false\nmaxClientCnxns=0\n"
	for _, l := range extra {
		text += l + "\n"
	}
	cfgPath = filepath.Join(dir, "zoo.cfg")
	must(t, os.WriteFile(cfgPath, []byte(text), 0o644))
	return dir, cfgPath, fmt.Sprintf("127.0.0.1:%d", port)
}

// serverCommand is the command, harness's, that runs a server on cfgPath
// with dir as its working directory: upstream Java ZooKeeper (a 256 MiB
// heap, its log in dir/server.log) when java is true, the zkserver binary
// bin otherwise. Neither is told a share of the CPUs.
func serverCommand(t testing.TB, java bool, bin, dir, cfgPath string) *exec.Cmd {
	t.Helper()
	o := harness.Options{Impl: harness.ImplGo, GoCommand: []string{bin, "start-foreground"}, ServerCPUs: -1}
	if java {
		o = harness.Options{Impl: harness.ImplJava, ServerCPUs: -1, JavaHeap: "256m",
			JavaOpts: []string{"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}}
	}
	cmd, err := harness.Command(o, dir, cfgPath)
	must(t, err)
	return cmd
}

// Kill stops a process server with SIGKILL and reaps it; safe to call twice.
func (s *Server) Kill() {
	if s.proc != nil {
		s.proc.Kill()
	}
}

// WaitServing waits until addr answers the ruok four-letter word with imok.
func WaitServing(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		out, err := FourLetterWord(addr, "ruok", time.Second)
		if err == nil && out == "imok" {
			return nil
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not serving after %v (last error: %v)", addr, timeout, last)
}

// WaitMode waits until addr reports a serving mode in srvr (standalone,
// leader, follower or observer): it has joined its ensemble and serves.
func WaitMode(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		out, err := FourLetterWord(addr, "srvr", time.Second)
		if err == nil {
			for _, line := range strings.Split(out, "\n") {
				if m, ok := strings.CutPrefix(line, "Mode: "); ok && m != "looking" {
					return nil
				}
			}
			last = strings.TrimSpace(out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s reports no serving mode after %v (last srvr: %q)", addr, timeout, last)
}

// FourLetterWord sends cmd to addr and returns the whole reply.
func FourLetterWord(addr, cmd string, timeout time.Duration) (string, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(timeout))
	if _, err := nc.Write([]byte(cmd)); err != nil {
		return "", err
	}
	var sb strings.Builder
	r := bufio.NewReader(nc)
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return sb.String(), nil
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("zktest: %v", err)
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
