package server_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/zktest"
)

// dumpTree lists every znode under "/" with its data, stat and ACL, sorted,
// skipping nothing: the whole state a client can see.
func dumpTree(t *testing.T, addr string) []string {
	t.Helper()
	c := connect(t, addr)
	defer c.Close()
	if err := c.AddAuth("digest", []byte("u:p")); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(p string)
	walk = func(p string) {
		data, st, err := c.Get(p)
		if err != nil {
			t.Fatalf("dump get %s: %v", p, err)
		}
		acl, _, err := c.GetACL(p)
		if err != nil {
			t.Fatalf("dump getACL %s: %v", p, err)
		}
		out = append(out, fmt.Sprintf("%s data=%q czxid=%#x mzxid=%#x pzxid=%#x ver=%d cver=%d aver=%d owner=%#x len=%d kids=%d acl=%v",
			p, data, st.Czxid, st.Mzxid, st.Pzxid, st.Version, st.Cversion, st.Aversion, st.EphemeralOwner, st.DataLength, st.NumChildren, acl))
		kids, _, err := c.Children(p)
		if err != nil {
			t.Fatalf("dump children %s: %v", p, err)
		}
		sort.Strings(kids)
		for _, k := range kids {
			if p == "/" {
				walk("/" + k)
			} else {
				walk(p + "/" + k)
			}
		}
	}
	walk("/")
	return out
}

// writeHistory makes a history with every kind of txn, enough of them to
// cross snapshot boundaries (the servers run with a small snapCount).
func writeHistory(t *testing.T, addr, prefix string) {
	t.Helper()
	c := connect(t, addr)
	defer c.Close()
	open := zk.WorldACL(zk.PermAll)
	must := func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Create(prefix, []byte("root"), 0, open))
	for i := 0; i < 60; i++ {
		p := fmt.Sprintf("%s/n%02d", prefix, i)
		must(c.Create(p, []byte(fmt.Sprint(i)), 0, open))
		if i%3 == 0 {
			if _, err := c.Set(p, []byte(fmt.Sprintf("v%d", i)), -1); err != nil {
				t.Fatal(err)
			}
		}
		if i%7 == 0 {
			if err := c.Delete(p, -1); err != nil {
				t.Fatal(err)
			}
		}
	}
	must(c.Create(prefix+"/seq-", nil, zk.FlagSequence, open))
	must(c.Create(prefix+"/acl", []byte("d"), 0, zk.DigestACL(zk.PermAll, "u", "p")))
	if _, err := c.SetACL(prefix+"/n01", zk.WorldACL(zk.PermRead|zk.PermAdmin), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Multi(&zk.CreateRequest{Path: prefix + "/m", Acl: open}, &zk.SetDataRequest{Path: prefix + "/m", Data: []byte("mm"), Version: -1}); err != nil {
		t.Fatal(err)
	}
	c.Create(prefix+"/dup", nil, 0, open)
	c.Create(prefix+"/dup", nil, 0, open) // a failed write: an ErrorTxn in the log
}

func compareDumps(t *testing.T, what string, want, got []string) {
	t.Helper()
	if strings.Join(want, "\n") == strings.Join(got, "\n") {
		t.Logf("%s: %d znodes identical", what, len(got))
		return
	}
	n := max(len(want), len(got))
	for i := 0; i < n; i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Errorf("%s: first difference at line %d:\n  before: %s\n  after:  %s", what, i, w, g)
			return
		}
	}
}

func TestIntegrationDataDirInterchange(t *testing.T) {
	zktest.RequireJava(t)
	// Java writes, Go reads.
	java := zktest.StartJava(t, "snapCount=20")
	writeHistory(t, java.Addr, "/java")
	javaDump := dumpTree(t, java.Addr)
	java.Kill()
	dataDir := filepath.Join(java.Dir, "data")
	gosrv := zktest.StartProcess(t, "dataDir="+dataDir, "snapCount=20")
	compareDumps(t, "Go server on Java's data dir", javaDump, dumpTree(t, gosrv.Addr))

	// Go continues the same history, Java reads it back.
	writeHistory(t, gosrv.Addr, "/go")
	goDump := dumpTree(t, gosrv.Addr)
	gosrv.Kill()
	// Upstream's own tools read the Go server's files (before Java opens
	// the directory and adds its own).
	snaps, _ := filepath.Glob(filepath.Join(dataDir, "version-2", "snapshot.*"))
	logs, _ := filepath.Glob(filepath.Join(dataDir, "version-2", "log.*"))
	if len(snaps) == 0 || len(logs) == 0 {
		t.Fatalf("expected snapshots and logs in %s, have %v %v", dataDir, snaps, logs)
	}
	cp := strings.Join(zktest.JavaClasspath, ":")
	// Every log file reads cleanly; together they hold the Go history.
	var all strings.Builder
	for _, lf := range logs {
		out, err := exec.Command("java", "-cp", cp, "org.apache.zookeeper.server.persistence.TxnLogToolkit", lf).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "EOF reached after") || strings.Contains(string(out), "CRC") {
			t.Errorf("TxnLogToolkit on %s: %v\n%s", lf, err, tail(string(out), 2000))
		}
		all.Write(out)
	}
	if !strings.Contains(all.String(), "/go/n59") {
		t.Errorf("TxnLogToolkit did not find the Go server's txns in %v", logs)
	}
	newest := newestFile(snaps)
	out, err := exec.Command("java", "-cp", cp, "org.apache.zookeeper.server.SnapshotFormatter", newest).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "/go") {
		t.Errorf("SnapshotFormatter on the Go server's snapshot %s: %v\n%s", newest, err, tail(string(out), 2000))
	}

	java2 := zktest.StartJava(t, "dataDir="+dataDir, "snapCount=20")
	compareDumps(t, "Java on the Go server's data dir", goDump, dumpTree(t, java2.Addr))
	java2.Kill()
}

func newestFile(paths []string) string {
	sort.Slice(paths, func(i, j int) bool {
		var a, b uint64
		fmt.Sscanf(filepath.Ext(paths[i]), ".%x", &a)
		fmt.Sscanf(filepath.Ext(paths[j]), ".%x", &b)
		return a < b
	})
	return paths[len(paths)-1]
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
