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
// on adminPort and returns its client address.
func startJavaAdmin(t *testing.T, adminPort int) string {
	t.Helper()
	dir := t.TempDir()
	port := zktest.FreePort(t)
	cfg := filepath.Join(dir, "zoo.cfg")
	text := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n"+
		"admin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n", filepath.Join(dir, "data"), port, adminPort)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	launchJavaAdmin(t, cfg)
	if err := zktest.WaitServing(addr, 30*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		t.Fatalf("java: %v\n%s", err, log)
	}
	return addr
}

// launchJavaAdmin starts Java ZooKeeper on cfgPath (its directory its
// own) with the jar its AdminServer needs. The process is killed by PID
// in t.Cleanup.
func launchJavaAdmin(t *testing.T, cfgPath string) {
	t.Helper()
	zktest.RequireJava(t)
	if _, err := os.Stat(servletJar); err != nil {
		t.Fatalf("upstream's AdminServer needs %s (Debian's libservlet-api-java): %v", servletJar, err)
	}
	cp, err := zkbin.DebianClasspath(zkbin.LogLog4j)
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := harness.Command(harness.Options{Impl: harness.ImplJava, ServerCPUs: -1, JavaHeap: "256m",
		JavaOpts:      []string{"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"},
		JavaClasspath: strings.Join(append(cp, servletJar), ":")}, filepath.Dir(cfgPath), cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// ensembleConfigs writes the zoo.cfg files of an ensemble of n servers on
// loopback (myid in place), each with the lines extra(i) adds, and returns
// the files and the client addresses.
func ensembleConfigs(t *testing.T, n int, extra func(i int) string) (cfgs, addrs []string) {
	t.Helper()
	root := t.TempDir()
	var servers []string
	clients := make([]int, n)
	for i := range n {
		clients[i] = zktest.FreePort(t)
		servers = append(servers, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", i+1, zktest.FreePort(t), zktest.FreePort(t)))
	}
	for i := range n {
		dir := filepath.Join(root, fmt.Sprintf("s%d", i+1))
		data := filepath.Join(dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		text := fmt.Sprintf("tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
			"4lw.commands.whitelist=*\n%s\n%s\n", data, clients[i], strings.Join(servers, "\n"), extra(i))
		cfg := filepath.Join(dir, "zoo.cfg")
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfgs, addrs = append(cfgs, cfg), append(addrs, fmt.Sprintf("127.0.0.1:%d", clients[i]))
	}
	return cfgs, addrs
}

// leaderOf waits until every server of addrs serves and returns the index
// of the leader.
func leaderOf(t *testing.T, addrs []string) int {
	t.Helper()
	for _, a := range addrs {
		if err := zktest.WaitMode(a, 60*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for i, a := range addrs {
		out, _ := zktest.FourLetterWord(a, "srvr", time.Second)
		if strings.Contains(out, "Mode: leader") {
			return i
		}
	}
	t.Fatalf("no leader among %v", addrs)
	return -1
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
	"fsync_max_batch", "fsync_p50_us", "fsync_p99_us", "commit_p99_us", "current_epoch", "leader_id"}

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

// In ensembles of three, the Go and Java AdminServers answer leader,
// monitor and the stats commands on the leader and on a follower with the
// same keys (monitor: the Go server's are Java's but for the documented
// Go-only ones); leader names the same leader on every member.
func TestAdminServerEnsembleMatchesJava(t *testing.T) {
	adminPorts := map[bool][]int{}
	leaders := map[bool]int{}
	for _, java := range []bool{true, false} {
		ports := []int{zktest.FreePort(t), zktest.FreePort(t), zktest.FreePort(t)}
		adminPorts[java] = ports
		cfgs, addrs := ensembleConfigs(t, 3, func(i int) string {
			return fmt.Sprintf("admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=%d", ports[i])
		})
		if java {
			for _, cfg := range cfgs {
				launchJavaAdmin(t, cfg)
			}
		} else {
			zktest.StartFromConfigs(t, cfgs, addrs)
		}
		leaders[java] = leaderOf(t, addrs)
		c := connect(t, addrs[(leaders[java]+1)%3])
		if _, err := c.Create("/admin", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	for _, role := range []string{"leader", "follower"} {
		pick := func(java bool) int {
			if role == "leader" {
				return adminPorts[java][leaders[java]]
			}
			return adminPorts[java][(leaders[java]+1)%3]
		}
		for _, name := range []string{"leader", "monitor", "stats", "server_stats", "configuration", "connections", "watch_summary"} {
			j, g := adminGet(t, pick(true), name), adminGet(t, pick(false), name)
			jk, gk := keyPaths("", j), keyPaths("", g)
			allowed := []string{}
			if name == "monitor" {
				allowed = goOnlyMonitor
			}
			if extra := minus(minus(gk, jk), allowed); len(extra) > 0 {
				t.Errorf("%s on the %s: keys Java's has not: %v", name, role, extra)
			}
			if name != "monitor" {
				if missing := minus(jk, gk); len(missing) > 0 {
					t.Errorf("%s on the %s: keys missing: %v", name, role, missing)
				}
			}
			if name == "leader" && (g["is_leader"] != (role == "leader") || g["leader_id"] != float64(leaders[false]+1)) {
				t.Errorf("leader on the %s: %v, want server %d leading", role, g, leaders[false]+1)
			}
		}
	}
}
