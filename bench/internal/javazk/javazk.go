// Package javazk starts upstream Java ZooKeeper ensembles (Debian's
// zookeeper package) on loopback ports for the load driver's tests. Every
// server is a child process killed by PID in t.Cleanup, even when the test
// fails. It is test support: the harness package owns ensembles for real
// runs.
package javazk

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

	"github.com/zkbench/zkbench/internal/testenv"
)

// Jars is the classpath: zookeeper.jar's manifest names its other
// dependencies; the two logging jars give it a log4j binding.
var jars = []string{
	"/usr/share/java/zookeeper.jar",
	"/usr/share/java/zookeeper-jute.jar",
	"/usr/share/java/slf4j-api.jar",
	"/usr/share/java/slf4j-log4j12.jar",
	"/usr/share/java/log4j-1.2.jar",
}

// Available reports why Java ZooKeeper cannot run here, or "" if it can.
func Available() string {
	if _, err := exec.LookPath("java"); err != nil {
		return "no java on PATH"
	}
	for _, j := range jars {
		if _, err := os.Stat(j); err != nil {
			return "missing " + j
		}
	}
	return ""
}

// Options configures an ensemble.
type Options struct {
	// Heap is the JVM's -Xmx (default "256m").
	Heap string
	// LeaderServes is zoo.cfg's leaderServes (default true, upstream's).
	LeaderServes *bool
	// Extra holds additional zoo.cfg lines.
	Extra []string
}

// Server is one running member.
type Server struct {
	ID         int64
	ClientAddr string
	Dir        string
	cmd        *exec.Cmd
	exited     chan struct{}
}

// Ensemble is a running ensemble.
type Ensemble struct {
	Servers []*Server
}

// freePorts returns n distinct free loopback ports.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("javazk: free port: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// Start starts an n-server ensemble (standalone for n == 1) and waits until
// every member serves clients. It skips the test, loudly, if Java ZooKeeper
// is not installed.
func Start(t testing.TB, n int, opts Options) *Ensemble {
	t.Helper()
	if why := Available(); why != "" {
		testenv.Missing(t, "upstream Java ZooKeeper is not installed (%s); apt-get install -y zookeeper", why)
	}
	if opts.Heap == "" {
		opts.Heap = "256m"
	}
	ports := freePorts(t, 3*n)
	base := t.TempDir()
	e := &Ensemble{}
	var serverLines []string
	if n > 1 {
		for i := range n {
			serverLines = append(serverLines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", i+1, ports[3*i+1], ports[3*i+2]))
		}
	}
	for i := range n {
		s := &Server{ID: int64(i + 1), ClientAddr: fmt.Sprintf("127.0.0.1:%d", ports[3*i]), Dir: filepath.Join(base, fmt.Sprintf("server-%d", i+1))}
		data := filepath.Join(s.Dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := []string{
			"tickTime=1000",
			"initLimit=10",
			"syncLimit=5",
			"dataDir=" + data,
			fmt.Sprintf("clientPort=%d", ports[3*i]),
			"clientPortAddress=127.0.0.1",
			"maxClientCnxns=0", // every simulated client comes from 127.0.0.1
			"4lw.commands.whitelist=*",
			"admin.enableServer=false",
			"forceSync=yes",
		}
		if opts.LeaderServes != nil && !*opts.LeaderServes {
			cfg = append(cfg, "leaderServes=no")
		}
		cfg = append(cfg, opts.Extra...)
		cfg = append(cfg, serverLines...)
		write(t, filepath.Join(s.Dir, "zoo.cfg"), strings.Join(cfg, "\n")+"\n")
		write(t, filepath.Join(data, "myid"), fmt.Sprintf("%d\n", s.ID))
		write(t, filepath.Join(s.Dir, "log4j.properties"), strings.Join([]string{
			"log4j.rootLogger=INFO, FILE",
			"log4j.appender.FILE=org.apache.log4j.FileAppender",
			"log4j.appender.FILE.File=" + filepath.Join(s.Dir, "server.log"),
			"log4j.appender.FILE.layout=org.apache.log4j.PatternLayout",
			"log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] %-5p [%t:%C{1}@%L] - %m%n",
		}, "\n")+"\n")
		e.Servers = append(e.Servers, s)
	}
	for _, s := range e.Servers {
		s.start(t, opts.Heap)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, s := range e.Servers {
		for {
			if mode, err := s.Mode(); err == nil && mode != "" {
				break
			}
			select {
			case <-s.exited:
				t.Fatalf("javazk: server %d exited during start-up; log:\n%s", s.ID, s.logTail())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("javazk: server %d not serving after 60s; log:\n%s", s.ID, s.logTail())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return e
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) start(t testing.TB, heap string) {
	t.Helper()
	s.cmd = exec.Command("java",
		"-Xmx"+heap, "-XX:+UseSerialGC", "-Djava.net.preferIPv4Stack=true",
		"-Dlog4j.configuration=file:"+filepath.Join(s.Dir, "log4j.properties"),
		"-Dzookeeper.log.dir="+s.Dir,
		"-cp", strings.Join(jars, ":"),
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", filepath.Join(s.Dir, "zoo.cfg"))
	out, err := os.Create(filepath.Join(s.Dir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("javazk: start server %d: %v", s.ID, err)
	}
	s.exited = make(chan struct{})
	cmd := s.cmd
	go func() {
		cmd.Wait()
		out.Close()
		close(s.exited)
	}()
	exited := s.exited
	t.Cleanup(func() {
		cmd.Process.Kill() // by PID
		<-exited
		if t.Failed() {
			t.Logf("javazk: server %d log tail:\n%s", s.ID, s.logTail())
		}
	})
}

// Kill stops the server with SIGKILL and waits for it to exit.
func (s *Server) Kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// Mode asks the server's srvr four-letter word for its mode (leader,
// follower, observer, standalone).
func (s *Server) Mode() (string, error) {
	c, err := net.DialTimeout("tcp", s.ClientAddr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return "", err
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if mode, ok := strings.CutPrefix(sc.Text(), "Mode: "); ok {
			return strings.TrimSpace(mode), nil
		}
	}
	return "", fmt.Errorf("javazk: server %d: no mode in srvr reply (not serving yet?)", s.ID)
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "server.log"))
	o, _ := os.ReadFile(filepath.Join(s.Dir, "stdout.log"))
	b = append(b, o...)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
