package zktest

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/testenv"
)

// JavaClasspath is the classpath that runs Debian's upstream ZooKeeper with
// its log going to log4j (the jar's manifest names the rest).
var JavaClasspath = []string{
	"/usr/share/java/zookeeper.jar",
	"/usr/share/java/slf4j-log4j12.jar",
	"/usr/share/java/log4j-1.2.jar",
}

// ErrNoJava explains how to get upstream ZooKeeper when it is missing.
var ErrNoJava = errors.New("upstream Java ZooKeeper is not installed: run `apt-get install -y zookeeper` (CI's .ci/run does)")

// JavaAvailable reports whether upstream Java ZooKeeper can be started.
func JavaAvailable() error {
	if _, err := exec.LookPath("java"); err != nil {
		return fmt.Errorf("%w (no java on PATH)", ErrNoJava)
	}
	for _, jar := range JavaClasspath {
		if _, err := os.Stat(jar); err != nil {
			return fmt.Errorf("%w (missing %s)", ErrNoJava, jar)
		}
	}
	return nil
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
	cmd  *exec.Cmd
}

// FreePort returns a loopback TCP port that was free a moment ago. Ports
// come from below the kernel's ephemeral range (which starts at 32768 by
// default), so outgoing client connections cannot take one between this
// check and the server's bind; each is handed out once per test binary.
func FreePort(t testing.TB) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for tries := 0; tries < 1000; tries++ {
		port := 20000 + portRand.Intn(12000)
		if portsUsed[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		portsUsed[port] = true
		return port
	}
	t.Fatalf("zktest: no free port found in 20000-32000")
	return 0
}

var (
	portMu    sync.Mutex
	portRand  = rand.New(rand.NewSource(time.Now().UnixNano() ^ int64(os.Getpid())))
	portsUsed = map[int]bool{}
)

// StartJava starts a standalone upstream ZooKeeper with extra zoo.cfg lines
// and waits until it answers.
func StartJava(t testing.TB, extra ...string) *Server {
	t.Helper()
	RequireJava(t)
	dir := t.TempDir()
	port := FreePort(t)
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"4lw.commands.whitelist=*\nadmin.enableServer=false\nmaxClientCnxns=0\n%s\n",
		filepath.Join(dir, "data"), port, strings.Join(extra, "\n"))
	cfgPath := filepath.Join(dir, "zoo.cfg")
	must(t, os.WriteFile(cfgPath, []byte(cfg), 0o644))
	cmd := javaCommand(dir, cfgPath)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	must(t, err)
	cmd.Stdout, cmd.Stderr = out, out
	must(t, cmd.Start())
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, PID: cmd.Process.Pid, cmd: cmd}
	t.Cleanup(func() { s.Kill(); out.Close() })
	if err := WaitServing(s.Addr, 30*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "zookeeper.log"))
		t.Fatalf("zktest: java zookeeper did not start: %v\n%s", err, tail(log, 3000))
	}
	return s
}

// javaCommand is the command that runs upstream ZooKeeper on cfgPath, with
// its log4j output going to dir/zookeeper.log.
func javaCommand(dir, cfgPath string) *exec.Cmd {
	os.WriteFile(filepath.Join(dir, "log4j.properties"), []byte(
		"log4j.rootLogger=INFO, F\nlog4j.appender.F=org.apache.log4j.FileAppender\n"+
			"log4j.appender.F.File="+filepath.Join(dir, "zookeeper.log")+"\n"+
			"log4j.appender.F.layout=org.apache.log4j.PatternLayout\n"+
			"log4j.appender.F.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n\n"), 0o644)
	cmd := exec.Command("java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dlog4j.configuration=file:"+filepath.Join(dir, "log4j.properties"),
		"-cp", strings.Join(append([]string{dir}, JavaClasspath...), ":"),
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath)
	cmd.Dir = dir
	return cmd
}

// Kill stops a process server with SIGKILL and reaps it; safe to call twice.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
	s.cmd = nil
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
