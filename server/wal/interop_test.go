package wal

import (
	"bytes"
	"context"
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
	"github.com/zkbench/zkbench/server/proto"
)

// Upstream Java ZooKeeper 3.8 as Debian installs it (apt-get install
// zookeeper); CI installs it, so these tests run there.
const (
	zkJar     = zkbin.ZookeeperJar // its manifest's Class-Path names jute, slf4j-api, ... but no binding
	zkCliPath = "/usr/share/zookeeper/bin/zkCli.sh"
)

// requireJavaZooKeeper skips the test loudly (fails it in CI) when zkbin's
// probe finds no upstream Java ZooKeeper.
func requireJavaZooKeeper(t *testing.T) {
	t.Helper()
	if _, err := zkbin.FindJava(zkbin.LogLog4j); err != nil {
		testenv.Missing(t, "%v", err)
	}
}

// TestIntegration_TxnLogToolkitReadsOurLog writes a log with this package
// and has upstream's TxnLogToolkit dump it: every txn must come out, with
// no CRC error, in both files of the log.
func TestIntegration_TxnLogToolkitReadsOurLog(t *testing.T) {
	requireJavaZooKeeper(t)
	dir := t.TempDir()
	e1 := int64(1) << 32
	// Default preallocation (a 1 MiB step of written zeros):
	// the tool must stop at the zero area as upstream's reader does.
	files := [][]int64{span(e1+1, e1+20), span(e1+21, e1+25)}
	l, err := Open(dir, Options{ForceSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, zs := range files {
		if i > 0 {
			if err := l.Roll(); err != nil {
				t.Fatal(err)
			}
		}
		for _, z := range zs {
			if err := l.Append(z, txn(z, fmt.Sprintf("/n%x", z), []byte(fmt.Sprintf("v%x", z)))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	for _, zs := range files {
		name := LogName(zs[0])
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		cmd := exec.CommandContext(ctx, "java", "-Xmx128m", "-cp", zkJar,
			"org.apache.zookeeper.server.persistence.TxnLogToolkit", filepath.Join(dir, name))
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("TxnLogToolkit %s: %v\n%s", name, err, out)
		}
		text := string(out)
		if !strings.Contains(text, "ZooKeeper Transactional Log File with dbid 0 txnlog format version 2") {
			t.Fatalf("%s: no header line in:\n%s", name, text)
		}
		if strings.Contains(text, "CRC ERROR") || strings.Contains(text, "partial") || strings.Contains(text, "Exception") {
			t.Fatalf("%s: tool reported errors:\n%s", name, text)
		}
		for _, z := range zs {
			want := fmt.Sprintf(" session 0x1000000abcd cxid 0x%x zxid 0x%x create /n%x,v%x,[31,s{'world,'anyone}\n],false,1\n",
				z&0xffff, z, z, z)
			if !strings.Contains(text, want) {
				t.Fatalf("%s: txn %#x missing (want %q) in:\n%s", name, z, want, text)
			}
		}
		if want := fmt.Sprintf("EOF reached after %d txns.", len(zs)); !strings.Contains(text, want) {
			t.Fatalf("%s: want %q in:\n%s", name, want, text)
		}
	}

	// Tear the last record of the newest file, Repair, and the tool reads
	// the cut file to its new end cleanly.
	last := files[len(files)-1]
	path := filepath.Join(dir, LogName(last[0]))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end := int64(headerSize)
	for _, z := range last {
		end += int64(recordOverhead + len(txn(z, fmt.Sprintf("/n%x", z), []byte(fmt.Sprintf("v%x", z)))))
	}
	copy(b[end-10:], "torn!")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if rep, err := Repair(dir, nil); err != nil || rep.File != LogName(last[0]) {
		t.Fatalf("Repair = %+v, %v", rep, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "java", "-Xmx128m", "-cp", zkJar,
		"org.apache.zookeeper.server.persistence.TxnLogToolkit", path).CombinedOutput()
	if err != nil {
		t.Fatalf("TxnLogToolkit on the repaired file: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("EOF reached after %d txns.", len(last)-1); !strings.Contains(string(out), want) || strings.Contains(string(out), "CRC ERROR") {
		t.Fatalf("repaired file: want %q and no CRC error in:\n%s", want, out)
	}
}

// TestIntegration_ReadJavaServerLog runs a standalone Java ZooKeeper 3.8,
// writes znodes with zkCli.sh, stops the server and reads its log.
func TestIntegration_ReadJavaServerLog(t *testing.T) {
	requireJavaZooKeeper(t)
	if _, err := os.Stat(zkCliPath); err != nil {
		testenv.Missing(t, "%s missing (apt-get install -y zookeeper)", zkCliPath)
	}
	if testing.Short() {
		t.Skip("SKIPPING Java server interop test in -short mode (takes ~15 s)")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	srv := startJavaZooKeeper(t, dataDir)
	for _, args := range [][]string{{"create", "/a", "x"}, {"create", "/b", "yy"}, {"set", "/a", "zzz"}} {
		zkCli(t, srv.addr, args...)
	}
	srv.stop()

	logDir := filepath.Join(dataDir, "version-2")
	if rep, err := Repair(logDir, nil); err != nil || rep.Cut() {
		t.Fatalf("Repair of a cleanly written Java log: %+v, %v", rep, err)
	}
	type entry struct {
		zxid int64
		op   proto.OpCode
		path string
		data string
	}
	var got []entry
	digests := 0
	err := ReadFrom(logDir, 0, func(z int64, rec []byte) error {
		lt, err := proto.DecodeLoggedTxn(rec)
		if err != nil {
			return err
		}
		e := entry{zxid: lt.Header.Zxid, op: lt.Header.Type}
		switch b := lt.Body.(type) {
		case *proto.CreateTxn:
			e.path, e.data = b.Path, string(b.Data)
		case *proto.SetDataTxn:
			e.path, e.data = b.Path, string(b.Data)
		}
		if lt.Digest != nil {
			digests++
		}
		if lt.Header.Zxid != z {
			return fmt.Errorf("header zxid %#x, record zxid %#x", lt.Header.Zxid, z)
		}
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadFrom of Java's log: %v\nfiles: %v", err, fileNames(t, logDir))
	}
	if digests != len(got) {
		// 3.8 appends a TxnDigest to every txn (zookeeper.digest.enabled
		// defaults to true); it must come through the log intact.
		t.Errorf("%d of %d txns carry a TxnDigest, want all", digests, len(got))
	}
	var summary bytes.Buffer
	for _, e := range got {
		fmt.Fprintf(&summary, "%#x %v %s %q\n", e.zxid, e.op, e.path, e.data)
	}
	// Three zkCli runs: a createSession, then the write, each; zkCli exits
	// without closing its session, but accept a closeSession too.
	want := []struct {
		op   proto.OpCode
		path string
		data string
	}{
		{proto.OpCreateSession, "", ""}, {proto.OpCreate, "/a", "x"},
		{proto.OpCreateSession, "", ""}, {proto.OpCreate, "/b", "yy"},
		{proto.OpCreateSession, "", ""}, {proto.OpSetData, "/a", "zzz"},
	}
	var ops []entry
	for i, g := range got {
		if g.zxid != int64(i+1) {
			t.Fatalf("txn %d has zxid %#x, want %#x; all:\n%s", i, g.zxid, i+1, summary.String())
		}
		if g.op != proto.OpCloseSession {
			ops = append(ops, g)
		}
	}
	if len(ops) != len(want) {
		t.Fatalf("read %d txns, want %d (and closeSessions):\n%s", len(ops), len(want), summary.String())
	}
	for i, w := range want {
		if g := ops[i]; g.op != w.op || g.path != w.path || g.data != w.data {
			t.Fatalf("txn %d = %+v, want %+v; all:\n%s", i, g, w, summary.String())
		}
	}
}

// javaServer is a standalone Java ZooKeeper started by a test.
type javaServer struct {
	addr string
	stop func()        // kills it by PID and waits; safe to call twice
	log  func() string // its output so far
}

// startJavaZooKeeper starts a standalone Java ZooKeeper on a free loopback
// port with the given dataDir, extra JVM flags first, and waits until it
// answers ruok. It is killed at the end of the test.
func startJavaZooKeeper(t *testing.T, dataDir string, jvmFlags ...string) javaServer {
	t.Helper()
	if _, err := os.Stat(zkCliPath); err != nil {
		testenv.Missing(t, "%s missing (apt-get install -y zookeeper)", zkCliPath)
	}
	tmp := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n", dataDir, port)
	cfgPath := filepath.Join(tmp, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// Launched as the harness launches every Java server: its log goes
	// to tmp/server.log, its output to tmp/server.out.
	cmd, err := harness.Command(harness.Options{Impl: harness.ImplJava, ServerCPUs: -1, JavaHeap: "256m", JavaOpts: jvmFlags}, tmp, cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(tmp, "server.out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }()
	srv := javaServer{
		addr: fmt.Sprintf("127.0.0.1:%d", port),
		stop: func() {
			cmd.Process.Kill() // by PID; its log is fsynced before each reply
			<-waited
		},
		log: func() string {
			var b []byte
			for _, f := range []string{"server.out", "server.log"} {
				c, _ := os.ReadFile(filepath.Join(tmp, f))
				b = append(b, c...)
			}
			return string(b)
		},
	}
	t.Cleanup(srv.stop)
	if err := waitServing(srv.addr, 60*time.Second); err != nil {
		t.Fatalf("Java ZooKeeper did not come up: %v\n%s", err, srv.log())
	}
	return srv
}

// zkCli runs one zkCli.sh command against addr and returns its output.
func zkCli(t *testing.T, addr string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, zkCliPath, append([]string{"-server", addr}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("zkCli %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestIntegration_JavaServerRestoresOurLog gives a Java ZooKeeper a data
// directory holding only a log written by this package: it must replay it
// (no snapshot, so with zookeeper.snapshot.trust.empty), serve the znodes,
// and continue the history in a new file that we read back whole.
func TestIntegration_JavaServerRestoresOurLog(t *testing.T) {
	requireJavaZooKeeper(t)
	if testing.Short() {
		t.Skip("SKIPPING Java server interop test in -short mode")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	logDir := filepath.Join(dataDir, "version-2")
	e1 := int64(1) << 32
	l, err := Open(logDir, Options{ForceSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for z := e1 + 1; z <= e1+5; z++ {
		if err := l.Append(z, txn(z, fmt.Sprintf("/w%d", z-e1), []byte(fmt.Sprintf("value-%d", z-e1)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	srv := startJavaZooKeeper(t, dataDir, "-Dzookeeper.snapshot.trust.empty=true")
	if out := zkCli(t, srv.addr, "get", "/w3"); !strings.Contains(out, "value-3") {
		t.Fatalf("Java ZooKeeper did not restore /w3 from our log; zkCli said:\n%s\nserver:\n%s", out, srv.log())
	}
	zkCli(t, srv.addr, "create", "/java", "j")
	srv.stop()

	var ops []string
	err = ReadFrom(logDir, 0, func(z int64, rec []byte) error {
		lt, err := proto.DecodeLoggedTxn(rec)
		if err != nil {
			return err
		}
		path := ""
		if c, ok := lt.Body.(*proto.CreateTxn); ok {
			path = c.Path
		}
		ops = append(ops, fmt.Sprintf("%#x %v %s", z, lt.Header.Type, path))
		return nil
	})
	if err != nil {
		t.Fatalf("reading our log continued by Java: %v (files %v)", err, fileNames(t, logDir))
	}
	joined := strings.Join(ops, "\n")
	t.Logf("files %v history:\n%s", fileNames(t, logDir), joined)
	if len(ops) < 7 || ops[0] != "0x100000001 create /w1" || ops[4] != "0x100000005 create /w5" || !strings.Contains(joined, "create /java") {
		t.Fatalf("history:\n%s", joined)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitServing polls the four-letter word ruok until the server says imok.
func waitServing(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			c.Write([]byte("ruok"))
			b := make([]byte, 4)
			n, _ := c.Read(b)
			c.Close()
			if string(b[:n]) == "imok" {
				return nil
			}
			last = fmt.Errorf("ruok answered %q", b[:n])
		} else {
			last = err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return last
}
