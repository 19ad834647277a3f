package config

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zkbench/zkbench/internal/testenv"
	"github.com/zkbench/zkbench/internal/zkbin"
)

// javaClasspath finds a java launcher and upstream ZooKeeper's jars
// (Debian's zookeeper package, its log discarded) with zkbin's probe; it
// skips the test loudly when they are missing.
func javaClasspath(t *testing.T) (string, string) {
	t.Helper()
	j, err := zkbin.FindJava(zkbin.LogNone)
	if err != nil {
		testenv.Missing(t, "%v: needed to compare with upstream's parser", err)
	}
	return j.Bin, j.ClasspathString()
}

// runUpstreamParser runs testdata/ParseCheck.java (upstream's
// QuorumPeerConfig) on the files and returns its report for each.
func runUpstreamParser(t *testing.T, files []string) map[string]string {
	t.Helper()
	java, cp := javaClasspath(t)
	src, err := filepath.Abs("testdata/ParseCheck.java")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(java, append([]string{"-Xmx128m", "-cp", cp, src}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ParseCheck: %v\n%s", err, stderr.String())
	}
	reports := map[string]string{}
	for _, block := range strings.Split(string(out), "---\n") {
		if block == "" {
			continue
		}
		first, rest, _ := strings.Cut(block, "\n")
		reports[strings.TrimPrefix(first, "file=")] = rest
	}
	return reports
}

// javaHostString is InetSocketAddress.getHostString for a host that Java
// parses as an IPv6 literal: eight uncompressed hex groups.
func javaHostString(h string) string {
	ip := net.ParseIP(h)
	if ip == nil || ip.To4() != nil {
		return h
	}
	g := make([]string, 8)
	for i := range g {
		g[i] = strconv.FormatUint(uint64(ip[2*i])<<8|uint64(ip[2*i+1]), 16)
	}
	return strings.Join(g, ":")
}

// render prints a Config the way ParseCheck.java prints upstream's.
func render(c *Config) string {
	var b strings.Builder
	w := func(k string, v any) { fmt.Fprintf(&b, "%s=%v\n", k, v) }
	addr := func(host string, port int) string {
		if port == 0 {
			return "null"
		}
		return host + ":" + fmt.Sprint(port)
	}
	w("tickTime", c.TickTime)
	w("initLimit", c.InitLimit)
	w("syncLimit", c.SyncLimit)
	w("dataDir", c.DataDir)
	w("dataLogDir", c.DataLogDir)
	w("clientPortAddress", addr(c.ClientPortAddress, c.ClientPort))
	w("secureClientPortAddress", addr(c.SecureClientPortAddress, c.SecureClientPort))
	w("maxClientCnxns", c.MaxClientCnxns)
	w("minSessionTimeout", c.MinSessionTimeout)
	w("maxSessionTimeout", c.MaxSessionTimeout)
	w("snapRetainCount", c.SnapRetainCount)
	w("purgeInterval", c.PurgeInterval)
	w("standalone", c.Standalone())
	w("standaloneEnabled", c.StandaloneEnabled)
	w("reconfigEnabled", c.ReconfigEnabled)
	w("peerType", c.PeerType)
	w("serverId", c.MyID)
	w("quorumListenOnAllIPs", c.QuorumListenOnAllIPs)
	w("syncEnabled", c.SyncEnabled)
	w("version", fmt.Sprintf("%x", c.ConfigVersion))
	for _, id := range slices.Sorted(maps.Keys(c.Servers)) {
		s := c.Servers[id]
		client := "none"
		if s.ClientPort != 0 {
			client = addr(s.ClientHost, s.ClientPort)
		}
		fmt.Fprintf(&b, "server.%d=%s %d %d %s %s\n", id, javaHostString(s.Host), s.QuorumPort, s.ElectionPort, s.Role, client)
	}
	for _, k := range slices.Sorted(maps.Keys(c.fileProps)) {
		fmt.Fprintf(&b, "property %s=%s\n", k, strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(c.fileProps[k]))
	}
	return b.String()
}

// TestIntegration_UpstreamParserAgrees runs upstream's QuorumPeerConfig on
// the fixtures, the syntax and error tables of this package and the Marshal
// output of every accepted case, and checks that it accepts exactly what
// Load accepts (bar the documented stricter checks) and reads the same.
func TestIntegration_UpstreamParserAgrees(t *testing.T) {
	javaClasspath(t)
	type tc struct {
		name, text, myid string
		stricter         bool // Load rejects on purpose what upstream accepts
	}
	var cases []tc
	dir := fixtureDir(t)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".cfg") {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		text := string(data)
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, "dataDir=") {
				text = strings.Replace(text, line, "dataDir=DATA", 1)
			}
		}
		myid := "-"
		if strings.Contains(text, "server.1=") {
			myid = "1"
		}
		if strings.Contains(text, "server.100=") {
			myid = "103"
		}
		if strings.Contains(e.Name(), "node4") {
			myid = "4"
		}
		cases = append(cases, tc{name: e.Name(), text: text, myid: myid})
	}
	stricter := map[string]bool{"tickTime negative": true, "no client port": true, "dup id": true, "dup addr": true, "group": true}
	for _, b := range brokenCases {
		cases = append(cases, tc{name: b.name, text: strings.ReplaceAll(b.text, "dataDir=/d", "dataDir=DATA"), myid: "-", stricter: stricter[b.name]})
	}
	for _, r := range refusedCases {
		cases = append(cases, tc{name: r.name, text: strings.ReplaceAll(r.text, "dataDir=/d", "dataDir=DATA"), myid: "-", stricter: true})
	}
	cases = append(cases,
		tc{name: "syntax", text: strings.Replace(syntaxText, "/data/dir", "DATA", 1), myid: "-"},
		tc{name: "line numbers", text: "tickTime=2000\r\n\r\n# c\ndataDir=DATA\\\n  \nclientPort=1\rinitLimit=\\\n7\n", myid: "-"},
		tc{name: "quorum with clientaddr", myid: "2", text: "tickTime=2000\ndataDir=DATA\ninitLimit=5\nsyncLimit=2\nserver.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.1:2889:3889;127.0.0.1:2182\nserver.3=[::1]:2890:3890:observer\nserver.4=localhost:2891:3891:participant\nserver.5=127.0.0.1:2892:3892;2185\nsnapCount=10\n4lw.commands.whitelist=*\n"},
		tc{name: "myid not listed", myid: "9", text: "tickTime=2000\ndataDir=DATA\ninitLimit=5\nsyncLimit=2\nclientPort=2181\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n"},
		tc{name: "myid blank", myid: "1 ", text: "tickTime=2000\ndataDir=DATA\ninitLimit=5\nsyncLimit=2\nclientPort=2181\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n"},
		tc{name: "myid missing", myid: "-", text: "tickTime=2000\ndataDir=DATA\ninitLimit=5\nsyncLimit=2\nclientPort=2181\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n"},
		tc{name: "observer peerType", myid: "3", text: "tickTime=2000\ndataDir=DATA\ninitLimit=5\nsyncLimit=2\nclientPort=2181\npeerType=observer\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2:observer\n"},
		tc{name: "peerType without list", myid: "1", text: "tickTime=2000\ndataDir=DATA\ninitLimit=5\nsyncLimit=2\nclientPort=2181\npeerType=observer\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n"},
		tc{name: "single server standalone", myid: "1", text: "dataDir=DATA\nclientPort=2181\nserver.1=a:1:2\n"},
		tc{name: "single server not standalone", myid: "1", text: "dataDir=DATA\nclientPort=2181\nserver.1=a:1:2\nstandaloneEnabled=false\ninitLimit=1\nsyncLimit=1\n"},
		tc{name: "two voters", myid: "1", text: "dataDir=DATA\nclientPort=2181\nserver.1=a:1:2\nserver.2=b:1:2\ninitLimit=1\nsyncLimit=1\n"},
		tc{name: "odd keys", myid: "-", text: "dataDir=DATA//x/\nclientPort=2181\nzookeeper.x=1\njute.maxbuffer=5\nautopurge.snapRetainCount=1\nautopurge.purgeInterval=24\nreconfigEnabled=true\nmaxClientCnxns=0\nsslQuorum=FALSE\n"},
		tc{name: "ignored keys", myid: "-", text: "dataDir=DATA\nclientPort=2181\nadmin.enableServer=false\nclientPortListenBacklog=50\nmetricsProvider.exportJvmInfo=false\nlocalSessionsEnabled=true\nauthProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider\nsessionRequireClientSASLAuth=false\nquorum.auth.enableSasl=false\n"},
		tc{name: "trailing colon", myid: "1", text: "dataDir=DATA\nclientPort=2181\ninitLimit=1\nsyncLimit=1\nserver.1=a:1:2:\nserver.2=b:1:2;\nserver.3=c:1:2\n"},
		tc{name: "non-ascii", myid: "-", text: "dataDir=DATA\nclientPort=2181\nname=caf\xc3\xa9 \\u00e9\n"},
		tc{name: "empty dataDir", myid: "-", text: "dataDir=\nclientPort=2181\n", stricter: true},
	)

	tmp := t.TempDir()
	var files []string
	paths := map[string]tc{}
	add := func(name string, c tc, text string) {
		d := filepath.Join(tmp, fmt.Sprintf("c%d", len(files)))
		os.MkdirAll(filepath.Join(d, "data"), 0o755)
		if c.myid != "-" {
			os.WriteFile(filepath.Join(d, "data", "myid"), []byte(c.myid), 0o644)
		}
		p := filepath.Join(d, "zoo.cfg")
		os.WriteFile(p, []byte(strings.ReplaceAll(text, "DATA", filepath.Join(d, "data"))), 0o644)
		files = append(files, p)
		c.name = name
		paths[p] = c
	}
	for _, c := range cases {
		add(c.name, c, c.text)
	}
	// The Marshal output of every case Load accepts must read the same upstream.
	for _, c := range cases {
		d := filepath.Join(tmp, "probe")
		os.MkdirAll(filepath.Join(d, "data"), 0o755)
		os.Remove(filepath.Join(d, "data", "myid"))
		if c.myid != "-" {
			os.WriteFile(filepath.Join(d, "data", "myid"), []byte(c.myid), 0o644)
		}
		p := filepath.Join(d, "zoo.cfg")
		os.WriteFile(p, []byte(strings.ReplaceAll(c.text, "DATA", filepath.Join(d, "data"))), 0o644)
		cfg, err := Load(p, nil)
		if err != nil {
			continue
		}
		cfg.DataDir, cfg.DataLogDir = "DATA", strings.Replace(cfg.DataLogDir, filepath.Join(d, "data"), "DATA", 1)
		add("marshal of "+c.name, c, string(cfg.Marshal()))
	}

	reports := runUpstreamParser(t, files)
	accepted := 0
	for _, p := range files {
		c := paths[p]
		java, ok := reports[p]
		if !ok {
			t.Errorf("%s: no report from upstream", c.name)
			continue
		}
		cfg, err := Load(p, nil)
		javaErr := java == "error\n"
		switch {
		case err != nil && javaErr:
		case err != nil && !javaErr && c.stricter:
		case err != nil:
			t.Errorf("%s: Load rejects what upstream accepts: %v\nupstream read:\n%s", c.name, err, java)
		case javaErr:
			t.Errorf("%s: Load accepts what upstream rejects", c.name)
		default:
			accepted++
			if got := render(cfg); got != java {
				t.Errorf("%s: Load and upstream differ\n go:\n%s\nupstream:\n%s", c.name, got, java)
			}
		}
	}
	if accepted < 20 {
		t.Errorf("only %d cases accepted by both: the table lost its teeth", accepted)
	}
}
