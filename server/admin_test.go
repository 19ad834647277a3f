package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/zkbin"
	"github.com/zkbench/zkbench/internal/zktest"
)

// servletJar is what upstream's JettyAdminServer needs beside Debian's
// jars: without it, Java starts without its AdminServer.
const servletJar = zkbin.DebianJavaDir + "/servlet-api.jar"

// startJavaAdmin starts a standalone Java ZooKeeper with its AdminServer
// on adminPort and returns its client address. The process is killed by
// PID in t.Cleanup.
func startJavaAdmin(t *testing.T, adminPort int) string {
	t.Helper()
	zktest.RequireJava(t)
	if _, err := os.Stat(servletJar); err != nil {
		t.Fatalf("upstream's AdminServer needs %s (Debian's libservlet-api-java): %v", servletJar, err)
	}
	cp, err := zkbin.DebianClasspath(zkbin.LogLog4j)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	port := zktest.FreePort(t)
	cfg := filepath.Join(dir, "zoo.cfg")
	text := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n"+
		"admin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n", filepath.Join(dir, "data"), port, adminPort)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, err := harness.Command(harness.Options{Impl: harness.ImplJava, ServerCPUs: -1, JavaHeap: "256m",
		JavaOpts:      []string{"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"},
		JavaClasspath: strings.Join(append(cp, servletJar), ":")}, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := zktest.WaitServing(addr, 30*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		t.Fatalf("java: %v\n%s", err, log)
	}
	return addr
}

// adminGet fetches one AdminServer command's JSON object.
func adminGet(t *testing.T, port int, name string) map[string]any {
	t.Helper()
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/commands/%s", port, name))
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: %s, %s", name, resp.Status, ct)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

// keyPaths lists an object's keys, those of nested objects as a.b, and
// those of an array's first object as a[].b.
func keyPaths(prefix string, v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			out = append(out, prefix+k)
			out = append(out, keyPaths(prefix+k+".", e)...)
		}
	case []any:
		if len(v) > 0 {
			out = append(out, keyPaths(strings.TrimSuffix(prefix, ".")+"[].", v[0])...)
		}
	}
	sort.Strings(out)
	return out
}

// minus is what of a is not in b.
func minus(a, b []string) []string {
	var out []string
	for _, k := range a {
		if !slices.Contains(b, k) {
			out = append(out, k)
		}
	}
	return out
}

// goOnlyMonitor are the monitor figures this server has and Java 3.8's
// monitor has not (mntr lines of this server: docs/metrics.md).
var goOnlyMonitor = []string{"epoch", "last_zxid", "followers", "fsync_count", "fsync_txns", "fsync_mean_batch",
	"fsync_max_batch", "fsync_p50_us", "fsync_p99_us", "commit_p99_us"}

// The Go server's AdminServer answers the commands tools use, under their
// names and four-letter aliases, with the JSON keys of Java 3.8's
// AdminServer (a differential test: both servers run, with a client
// session and a watch each). monitor and environment: the Go server's keys
// are Java's but for the documented Go-only ones, and monitor's core
// figures are in both.
func TestAdminServerMatchesJava(t *testing.T) {
	javaAdmin, goAdmin := zktest.FreePort(t), zktest.FreePort(t)
	javaAddr := startJavaAdmin(t, javaAdmin)
	goSrv := zktest.StartGo(t, "admin.enableServer=true", "admin.serverAddress=127.0.0.1", fmt.Sprintf("admin.serverPort=%d", goAdmin))
	for _, addr := range []string{javaAddr, goSrv.Addr} {
		c := connect(t, addr)
		if _, err := c.Create("/admin", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := c.GetW("/admin"); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"ruok", "monitor", "mntr", "stats", "stat", "server_stats", "srvr", "leader",
		"configuration", "conf", "connections", "cons", "watch_summary", "wchs", "is_read_only", "isro",
		"dirs", "environment", "envi", "no_such_command"} {
		j, g := adminGet(t, javaAdmin, name), adminGet(t, goAdmin, name)
		if j["command"] != g["command"] || (j["error"] == nil) != (g["error"] == nil) {
			t.Errorf("%s: command %v, error %v; Java's: command %v, error %v", name, g["command"], g["error"], j["command"], j["error"])
		}
		jk, gk := keyPaths("", j), keyPaths("", g)
		switch j["command"] {
		case "monitor":
			if extra := minus(minus(gk, jk), goOnlyMonitor); len(extra) > 0 {
				t.Errorf("%s: keys Java's has not: %v", name, extra)
			}
			core := []string{"version", "server_state", "avg_latency", "max_latency", "min_latency", "packets_received",
				"packets_sent", "num_alive_connections", "outstanding_requests", "znode_count", "watch_count",
				"ephemerals_count", "approximate_data_size", "open_file_descriptor_count", "uptime"}
			if missing := minus(core, gk); len(missing) > 0 {
				t.Errorf("%s: missing %v", name, missing)
			}
			if missing := minus(core, jk); len(missing) > 0 {
				t.Errorf("%s: Java's lacks %v (the core list is wrong)", name, missing)
			}
		case "environment":
			if extra := minus(minus(gk, jk), []string{"go.version"}); len(extra) > 0 {
				t.Errorf("%s: keys Java's has not: %v", name, extra)
			}
		default:
			if extra, missing := minus(gk, jk), minus(jk, gk); len(extra)+len(missing) > 0 {
				t.Errorf("%s: keys Java's has not: %v; keys missing: %v", name, extra, missing)
			}
		}
	}
	if g := adminGet(t, goAdmin, "watch_summary"); g["num_total_watches"] != 1.0 || g["num_paths"] != 1.0 {
		t.Errorf("watch_summary %v, want the one watch", g)
	}
	if g := adminGet(t, goAdmin, "cons")["connections"].([]any); len(g) != 1 {
		t.Errorf("connections: %v, want the one client", g)
	}
}
