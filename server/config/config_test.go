package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server/quorum"
)

// fixtures holds zoo.cfg files as they are written in the field (see its
// README.md).
const fixtures = "testdata/fixtures"

func fixtureDir(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(fixtures); err != nil {
		t.Fatalf("zoo.cfg fixtures: %v", err)
	}
	return fixtures
}

func mustParse(t *testing.T, text string, env ...string) *Config {
	t.Helper()
	c, err := Parse(strings.NewReader(text), "zoo.cfg", env)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, text)
	}
	return c
}

func TestFixturesParse(t *testing.T) {
	dir := fixtureDir(t)
	pseudo := map[int64]quorum.Server{
		1: {ID: 1, Host: "127.0.0.1", QuorumPort: 2188, ElectionPort: 3188, Role: quorum.Participant},
		2: {ID: 2, Host: "127.0.0.1", QuorumPort: 2189, ElectionPort: 3189, Role: quorum.Participant},
		3: {ID: 3, Host: "127.0.0.1", QuorumPort: 2190, ElectionPort: 3190, Role: quorum.Participant},
		4: {ID: 4, Host: "127.0.0.1", QuorumPort: 2191, ElectionPort: 3191, Role: quorum.Observer},
	}
	type want struct {
		tick, init, sync    int
		dataDir, dataLogDir string
		clientPort          int
		retain, purge       int
		servers             int
		voters, quorum      int
		standalone          bool
		serverIDs           []int64
		server              *quorum.Server
	}
	cases := map[string]want{
		"five-hosts-3.4.cfg": {2000, 10, 5, "/opt/modules/zookeeper-3.4.10/zkData", "/opt/modules/zookeeper-3.4.10/zkData", 2181, 3, 0, 5, 5, 3, false,
			[]int64{100, 101, 102, 103, 104}, &quorum.Server{ID: 102, Host: "hadoop102", QuorumPort: 2888, ElectionPort: 3888, Role: quorum.Participant}},
		"three-hosts-datalogdir-3.4.cfg": {2000, 10, 5, "/opt/zookeeper-3.4.9/data", "/opt/zookeeper-3.4.9/logs", 2181, 3, 1, 3, 3, 2, false,
			[]int64{1, 2, 3}, &quorum.Server{ID: 1, Host: "0.0.0.0", QuorumPort: 2888, ElectionPort: 3888, Role: quorum.Participant}},
		"standalone-3.3.cfg": {2000, 5, 2, "/home/hadoop/storage/zookeeper", "/home/hadoop/storage/zookeeper", 2181, 3, 0, 0, 0, 1, true, nil, nil},
	}
	for i := 1; i <= 4; i++ {
		s := pseudo[3]
		cases["pseudo-cluster-observer-node"+string(rune('0'+i))+".cfg"] = want{2000, 10, 5,
			"/tmp/zkcluster/data/zk" + string(rune('0'+i)), "/tmp/zkcluster/data/zk" + string(rune('0'+i)), 2180 + i, 3, 0, 4, 3, 2, false,
			[]int64{1, 2, 3, 4}, &s}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".cfg") {
			continue
		}
		seen++
		w, ok := cases[e.Name()]
		if !ok {
			t.Errorf("fixture %s has no expectations in this test", e.Name())
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse(f, e.Name(), nil)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		got := want{c.TickTime, c.InitLimit, c.SyncLimit, c.DataDir, c.DataLogDir, c.ClientPort, c.SnapRetainCount, c.PurgeInterval,
			len(c.Servers), len(c.Voters()), c.QuorumSize(), c.Standalone(), slices.Sorted(maps.Keys(c.Servers)), nil}
		if w.server != nil {
			s := c.Servers[w.server.ID]
			got.server = &s
		}
		if len(got.serverIDs) == 0 {
			got.serverIDs = nil
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s:\n got %+v %+v\nwant %+v %+v", e.Name(), got, got.server, w, w.server)
		}
		if c.ClientPortAddress != "0.0.0.0" || c.MaxClientCnxns != 60 || c.MinSessionTimeout != 4000 || c.MaxSessionTimeout != 40000 ||
			c.SnapCount != 100000 || c.PreAllocSize != 64<<20 || !c.ForceSync || !c.LeaderServes ||
			!reflect.DeepEqual(c.FourLetterWords, map[string]bool{"srvr": true}) || c.MaxBuffer() != 0xfffff {
			t.Errorf("%s: defaults wrong: %+v", e.Name(), c)
		}
	}
	if seen != len(cases) {
		t.Errorf("saw %d fixtures, expected %d", seen, len(cases))
	}
	if len(pseudo) != 4 {
		t.Fatal("table broken")
	}
}

// The pseudo-cluster fixtures launch once dataDir points somewhere real and
// holds a myid: load all four as each node would.
func TestFixturesLoadPseudoCluster(t *testing.T) {
	dir := fixtureDir(t)
	tmp := t.TempDir()
	for i := 1; i <= 4; i++ {
		name := "pseudo-cluster-observer-node" + string(rune('0'+i)) + ".cfg"
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		dd := filepath.Join(tmp, "zk"+string(rune('0'+i)))
		os.MkdirAll(dd, 0o755)
		os.WriteFile(filepath.Join(dd, "myid"), []byte(string(rune('0'+i))+"\n"), 0o644)
		text := strings.Replace(string(data), "/tmp/zkcluster/data/zk"+string(rune('0'+i)), dd, 1)
		path := filepath.Join(tmp, name)
		os.WriteFile(path, []byte(text), 0o644)
		c, err := Load(path, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		wantType := quorum.Participant
		if i == 4 {
			wantType = quorum.Observer
		}
		if c.MyID != int64(i) || c.PeerType != wantType || c.DataDir != dd || c.Standalone() {
			t.Errorf("%s: myid %d peerType %s dataDir %s standalone %v", name, c.MyID, c.PeerType, c.DataDir, c.Standalone())
		}
		// node4 says :observer in the list but no peerType=observer: upstream
		// warns and follows the list.
		warned := strings.Contains(strings.Join(c.Warnings, "\n"), "doesn't match peerType")
		if warned != (i == 4) {
			t.Errorf("%s: peer type warning = %v; warnings %q", name, warned, c.Warnings)
		}
		if len(c.Observers()) != 1 || c.Observers()[0].ID != 4 || len(c.Voters()) != 3 || c.QuorumSize() != 2 {
			t.Errorf("%s: voters %v observers %v", name, c.Voters(), c.Observers())
		}
	}
}

const brokenBase = "tickTime=2000\ndataDir=/d\nclientPort=2181\n"
const brokenQuorum = brokenBase + "initLimit=5\nsyncLimit=2\n"

var brokenCases = []struct {
	name, text, want string
}{
	{"not a number", brokenBase + "initLimit=ten\n", `zoo.cfg:4: initLimit: not a number: "ten"`},
	{"no dataDir", "tickTime=2000\nclientPort=2181\n", `zoo.cfg: dataDir: is not set`},
	{"tickTime zero", "tickTime=0\ndataDir=/d\nclientPort=1\n", `zoo.cfg: tickTime: is not set`},
	{"tickTime negative", "tickTime=-5\ndataDir=/d\nclientPort=1\n", `zoo.cfg:1: tickTime: must not be negative: -5`},
	{"no client port", "dataDir=/d\n", `zoo.cfg: clientPort: is not set (and no server.N line gives this server a client port)`},
	{"address without port", "dataDir=/d\nclientPortAddress=127.0.0.1\n", `zoo.cfg: clientPortAddress: is set but clientPort is not set`},
	{"port range", "dataDir=/d\nclientPort=70000\n", `zoo.cfg:2: clientPort: port out of range: 70000`},
	{"min > max", brokenBase + "minSessionTimeout=50000\n", `zoo.cfg: minSessionTimeout: must not be larger than maxSessionTimeout (50000 > 40000)`},
	{"max below default min", brokenBase + "maxSessionTimeout=1000\n", `zoo.cfg: minSessionTimeout: must not be larger than maxSessionTimeout (4000 > 1000)`},
	{"bool", brokenBase + "standaloneEnabled=yes\n", `zoo.cfg:4: standaloneEnabled: invalid option "yes": choose 'true' or 'false'`},
	{"electionAlg", brokenBase + "electionAlg=1\n", `zoo.cfg:4: electionAlg: invalid value 1: only 3 is supported`},
	{"peerType", brokenBase + "peerType=leader\n", `zoo.cfg:4: peerType: unrecognised peer type "leader" (participant or observer)`},
	{"no initLimit", brokenBase + "syncLimit=2\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n", `zoo.cfg: initLimit: is not set (required with more than one server)`},
	{"no syncLimit", brokenBase + "initLimit=2\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n", `zoo.cfg: syncLimit: is not set (required with more than one server)`},
	{"one port", brokenQuorum + "server.1=a:2888\n", `zoo.cfg:6: server.1: "a:2888" does not have the form host:port:port[:role][;[clientHost:]clientPort]`},
	{"five parts", brokenQuorum + "server.1=a:1:2:observer:x\n", `zoo.cfg:6: server.1: "a:1:2:observer:x" does not have the form host:port:port[:role][;[clientHost:]clientPort]`},
	{"port out of range", brokenQuorum + "server.1=a:2888:70000\n", `zoo.cfg:6: server.1: election port out of range: 70000`},
	{"port not a number", brokenQuorum + "server.1=a:x:3888\n", `zoo.cfg:6: server.1: quorum port "x" is not a number`},
	{"trailing blank", brokenQuorum + "server.1=a:2888:3888 \n", `zoo.cfg:6: server.1: election port "3888 " is not a number (blanks are not allowed here; upstream rejects them too)`},
	{"same ports", brokenQuorum + "server.1=a:2888:2888\n", `zoo.cfg:6: server.1: quorum and election port must be different (both 2888)`},
	{"bad role", brokenQuorum + "server.1=a:1:2:leader\n", `zoo.cfg:6: server.1: unrecognised peer type "leader" (participant or observer)`},
	{"bad id", brokenQuorum + "server.x=a:1:2\n", `zoo.cfg:6: server.x: server id "x" is not a number`},
	{"dup id", brokenQuorum + "server.1=a:1:2\nserver.01=b:1:2\n", `zoo.cfg:7: server.01: server id 1 is already defined on line 6`},
	{"dup addr", brokenQuorum + "server.1=a:1:2\nserver.2=a:3:1\nserver.3=c:1:2\n", `zoo.cfg:7: server.2: election address a:1 is already used as the quorum address of server.1`},
	{"ipv6 no bracket end", brokenQuorum + "server.1=[::1:2888:3888\n", `zoo.cfg:6: server.1: "[::1:2888:3888" starts with '[' but has no matching ']:'`},
	{"ipv6 no port", brokenQuorum + "server.1=[::1]:\n", `zoo.cfg:6: server.1: "[::1]:" doesn't have a port after colon`},
	{"client part too long", brokenQuorum + "server.1=a:1:2;h:1:2\n", `zoo.cfg:6: server.1: "a:1:2;h:1:2" does not have the form host:port:port[:role][;[clientHost:]clientPort]`},
	{"client port", brokenQuorum + "server.1=a:1:2;x\n", `zoo.cfg:6: server.1: client port "x" is not a number`},
	{"observer only", brokenQuorum + "server.1=a:1:2:observer\n", `zoo.cfg: server: observers without participants are an invalid configuration`},
	{"observer one voter", brokenQuorum + "server.1=a:1:2\nserver.2=b:1:2:observer\n", `zoo.cfg: server: observers without a quorum are an invalid configuration (one participant and standaloneEnabled)`},
	{"no participants", brokenQuorum + "standaloneEnabled=false\n", `zoo.cfg: standaloneEnabled: standaloneEnabled=false needs at least one participant server`},
	{"group", brokenQuorum + "server.1=a:1:2\ngroup.1=1\n", `zoo.cfg:7: group.1: hierarchical quorums (group.N/weight.N) are not supported by this server`},
	{"static servers with dynamic file", brokenQuorum + "dynamicConfigFile=/x\nserver.1=a:1:2\n", `zoo.cfg:7: server.1: must be in the separate dynamic config file (dynamicConfigFile is set)`},
	{"bad unicode", brokenBase + "foo=\\u12G4\n", `zoo.cfg:4: foo: malformed \uxxxx escape`},
	{"empty server value", brokenQuorum + "server.1=;\n", `zoo.cfg:6: server.1: ";" does not have the form host:port:port[:role][;[clientHost:]clientPort]`},
	{"empty client part", brokenQuorum + "server.1=a:1:2;:\n", `zoo.cfg:6: server.1: "a:1:2;:" does not have the form host:port:port[:role][;[clientHost:]clientPort]`},
	{"empty address", brokenQuorum + "server.1=|\n", `zoo.cfg:6: server.1: "|" does not have the form host:port:port[:role][;[clientHost:]clientPort]`},
	{"multi address", brokenQuorum + "server.1=a:1:2|b:1:2\n", `zoo.cfg:6: server.1: multiple addresses (|) are not supported (upstream needs multiAddress.enabled)`},
	{"sasl", brokenBase + "quorum.auth.serverRequireSasl=true\n", `zoo.cfg: quorum.auth.serverRequireSasl: quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.serverRequireSasl`},
	{"sasl learner", brokenBase + "quorum.auth.learnerRequireSasl=true\n", `zoo.cfg: quorum.auth.learnerRequireSasl: quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.learnerRequireSasl`},
	{"sasl server without learner", brokenBase + "quorum.auth.enableSasl=true\nquorum.auth.serverRequireSasl=true\n", `zoo.cfg: quorum.auth.serverRequireSasl: quorum.auth.learnerRequireSasl is disabled, so cannot enable quorum.auth.serverRequireSasl`},
}

func TestBrokenConfigs(t *testing.T) {
	for _, tc := range brokenCases {
		_, err := Parse(strings.NewReader(tc.text), "zoo.cfg", nil)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: error %T is not *Error", tc.name, err)
		}
		if err.Error() != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, err, tc.want)
		}
	}
}

var syntaxText = "# comment\n" +
	"! also a comment \\\n" +
	"tickTime 2000\n" + // key value
	"   dataDir : /data/dir   \n" + // colon, blanks around, trailing trimmed
	"clientPort=21\\\n" + // continuation
	"   81\n" +
	"\n" +
	"a\\=b=c\\\\d\n" + // escaped separator in key, escaped backslash
	"tab\\tkey=\\u0041\\u00e9\\n\n" +
	"x==y\n" + // value starting with '='
	"empty\n" + // no value
	"crlf=1\r\n" +
	"cr=2\rafter=3\r\n" +
	"joined=a\\\r\n   b\r\n" +
	"k\\ sp = v w \n" +
	"  #comment=\\\n#x\n" + // a comment (even indented) is not continued; the next line is a comment too
	"cont=\\\n  #x\n" + // but a continued line starting with # is content
	"last=end\\"

func TestPropertiesSyntax(t *testing.T) {
	c := mustParse(t, syntaxText)
	if c.TickTime != 2000 || c.DataDir != "/data/dir" || c.ClientPort != 2181 {
		t.Fatalf("got tick %d dataDir %q clientPort %d", c.TickTime, c.DataDir, c.ClientPort)
	}
	want := map[string]string{
		"zookeeper.a=b":      `c\d`,
		"zookeeper.tab\tkey": "Aé", // trim() drops the \n
		"zookeeper.x":        "=y",
		"zookeeper.empty":    "",
		"zookeeper.crlf":     "1",
		"zookeeper.cr":       "2",
		"zookeeper.after":    "3",
		"zookeeper.joined":   "ab",
		"zookeeper.k sp":     "v w",
		"zookeeper.cont":     "#x",
		"zookeeper.last":     "end",
	}
	for k, v := range want {
		if got, ok := c.Property(k); !ok || got != v {
			t.Errorf("property %q = %q, %v; want %q", k, got, ok, v)
		}
	}
	if len(c.Properties) != len(want) {
		t.Errorf("properties %q", c.Properties)
	}
}

func TestPropertiesLineNumbers(t *testing.T) {
	text := "tickTime=2000\r\n\r\n# c\ndataDir=/d\\\n  /e\nclientPort=1\rinitLimit=\\\nzz\n"
	_, err := Parse(strings.NewReader(text), "z.cfg", nil)
	if err == nil || err.Error() != `z.cfg:7: initLimit: not a number: "zz"` {
		t.Fatalf("got %v", err)
	}
}

func TestISO88591(t *testing.T) {
	c := mustParse(t, "tickTime=2000\nclientPort=1\ndataDir=/tmp/\xc3\xa9\n")
	if c.DataDir != "/tmp/Ã©" {
		t.Errorf("dataDir %q: Java reads the bytes as ISO-8859-1", c.DataDir)
	}
	if !strings.Contains(strings.Join(c.Warnings, "\n"), "ISO-8859-1") {
		t.Errorf("no warning: %q", c.Warnings)
	}
}

func TestUnknownKeysBecomeProperties(t *testing.T) {
	c := mustParse(t, "tickTime=2000\ndataDir=/d\nclientPort=1\n"+
		"snapCount=5000\npreAllocSize=16\nforceSync=no\nleaderServes=no\n4lw.commands.whitelist=stat, ruok ,\n"+
		"DigestAuthenticationProvider.superDigest=super:abc\nextendedTypesEnabled=true\n"+
		"jute.maxbuffer=4000\nzookeeper.foo=bar\nmystery=1\n",
		"JVMFLAGS=-Djute.maxbuffer=2000000 -Dreadonlymode.enabled=true -Dzookeeper.snapCount=7")
	if c.SnapCount != 5000 || c.PreAllocSize != 16*1024 || c.ForceSync || c.LeaderServes {
		t.Errorf("snapCount %d preAlloc %d forceSync %v leaderServes %v", c.SnapCount, c.PreAllocSize, c.ForceSync, c.LeaderServes)
	}
	if !reflect.DeepEqual(c.FourLetterWords, map[string]bool{"srvr": true, "stat": true, "ruok": true, "isro": true}) {
		t.Errorf("4lw %v", c.FourLetterWords)
	}
	if c.SuperDigest() != "super:abc" || !c.ExtendedTypesEnabled() || !c.ReadOnlyModeEnabled() {
		t.Errorf("superDigest %q ext %v ro %v", c.SuperDigest(), c.ExtendedTypesEnabled(), c.ReadOnlyModeEnabled())
	}
	// jute.maxbuffer in zoo.cfg is zookeeper.jute.maxbuffer upstream: only the flag counts.
	if c.MaxBuffer() != 2000000 {
		t.Errorf("MaxBuffer %d", c.MaxBuffer())
	}
	if v, _ := c.Property("zookeeper.jute.maxbuffer"); v != "4000" {
		t.Errorf("zookeeper.jute.maxbuffer %q", v)
	}
	if v, _ := c.Property("zookeeper.zookeeper.foo"); v != "bar" {
		t.Errorf("zookeeper.zookeeper.foo %q", v)
	}
	w := strings.Join(c.Warnings, "\n")
	for _, s := range []string{"unknown key mystery", "zookeeper.zookeeper.foo, which nothing reads", "jute.maxbuffer becomes system property zookeeper.jute.maxbuffer and has no effect", "snapCount=5000 overrides -Dzookeeper.snapCount=7"} {
		if !strings.Contains(w, s) {
			t.Errorf("no warning %q in\n%s", s, w)
		}
	}
	if strings.Contains(w, "unknown key snapCount") {
		t.Errorf("warned about a well-known property: %s", w)
	}
	all := mustParse(t, "tickTime=2000\ndataDir=/d\nclientPort=1\n4lw.commands.whitelist=*\nsnapCount=1\npreAllocSize=big\nsnapCount=0x10\n")
	if len(all.FourLetterWords) != len(FourLetterWordNames) || all.SnapCount != 16 || all.PreAllocSize != DefaultPreAllocSize {
		t.Errorf("4lw %v snapCount %d preAlloc %d", all.FourLetterWords, all.SnapCount, all.PreAllocSize)
	}
	batch := mustParse(t, "tickTime=2000\ndataDir=/d\nclientPort=1\nflushDelay=3\n", "JVMFLAGS=-Dzookeeper.maxBatchSize=0x40")
	if batch.FlushDelay != 3*time.Millisecond || batch.MaxBatchSize != 64 {
		t.Errorf("flushDelay %v maxBatchSize %d, want 3ms and 64", batch.FlushDelay, batch.MaxBatchSize)
	}
	if linger := mustParse(t, "tickTime=2000\ndataDir=/d\nclientPort=1\ncommitLingerUs=500\n"); linger.GroupCommitLinger != 500*time.Microsecond || len(linger.Warnings) != 0 {
		t.Errorf("commitLingerUs=500: linger %v, warnings %q", linger.GroupCommitLinger, linger.Warnings)
	}
	if all.GroupCommitLinger != DefaultGroupCommitLinger {
		t.Errorf("default linger %v, want %v", all.GroupCommitLinger, DefaultGroupCommitLinger)
	}
	if all.FlushDelay != 0 || all.MaxBatchSize != DefaultMaxBatchSize {
		t.Errorf("defaults: flushDelay %v maxBatchSize %d", all.FlushDelay, all.MaxBatchSize)
	}
	bad := mustParse(t, "tickTime=2000\ndataDir=/d\nclientPort=1\nflushDelay=soon\nmaxBatchSize=-1\ncommitLingerUs=-5\n")
	if w := strings.Join(bad.Warnings, "\n"); !strings.Contains(w, `flushDelay "soon"`) || !strings.Contains(w, `maxBatchSize "-1"`) || !strings.Contains(w, `commitLingerUs "-5"`) || bad.MaxBatchSize != DefaultMaxBatchSize {
		t.Errorf("bad values: warnings %q, maxBatchSize %d", w, bad.MaxBatchSize)
	}
	low := mustParse(t, "tickTime=2000\ndataDir=/d\nclientPort=1\nsnapCount=1\nautopurge.snapRetainCount=1\n")
	if low.SnapCount != 2 || low.SnapRetainCount != 3 {
		t.Errorf("snapCount %d retain %d", low.SnapCount, low.SnapRetainCount)
	}
}

func TestJVMFlags(t *testing.T) {
	base := "tickTime=2000\ndataDir=/d\nclientPort=1\n"
	c := mustParse(t, base,
		"SERVER_JVMFLAGS=-Xmx512m -Da=server -Db=server\t-Dempty",
		"JVMFLAGS=-Da=jvm  -Dq=\"quoted\" -cp /x:/y -XX:+UseG1GC -Deq=x=y",
		"OTHER=-Dz=1")
	want := map[string]string{"a": "jvm", "b": "server", "empty": "", "q": `"quoted"`, "eq": "x=y"}
	if !reflect.DeepEqual(c.Properties, want) {
		t.Errorf("properties %q, want %q", c.Properties, want)
	}
	if !strings.Contains(strings.Join(c.Warnings, "\n"), "quote characters") {
		t.Errorf("no quote warning: %q", c.Warnings)
	}
	_, err := Parse(strings.NewReader(base), "zoo.cfg", []string{`JVMFLAGS=-Dx="a b"`})
	if err == nil || err.Error() != `JVMFLAGS: word "b\"" is not a java option: the shell splits JVMFLAGS on blanks without honouring quotes, and java would take "b\"" as its main class` {
		t.Errorf("got %v", err)
	}
	// The zoo.cfg key wins over the flag (System.setProperty after start).
	c = mustParse(t, base+"snapCount=10\n", "SERVER_JVMFLAGS=-Dzookeeper.snapCount=99")
	if c.SnapCount != 10 {
		t.Errorf("snapCount %d", c.SnapCount)
	}
	c = mustParse(t, base, "SERVER_JVMFLAGS=-Dzookeeper.snapCount=99")
	if c.SnapCount != 99 {
		t.Errorf("snapCount %d", c.SnapCount)
	}
}

func TestWarnings(t *testing.T) {
	q := "tickTime=2000\ndataDir=/d\nclientPort=1\ninitLimit=5\nsyncLimit=2\n"
	cases := []struct{ text, want string }{
		{q + "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nserver.4=d:1:2\n", "non-optimal configuration: consider an odd number of servers (4 participants)"},
		{q + "server.1=a:1:2\nserver.2=b:1:2\n", "no server failure will be tolerated"},
		{q + "server.1=a:1:2\n", "only one server specified"},
		{q + "initLimit=6\n", "zoo.cfg:6: initLimit set again (first on line 4); the last one wins"},
		{q + "dataLogDir=rel\n", "dataLogDir \"rel\" is a relative path"},
	}
	for _, tc := range cases {
		c := mustParse(t, tc.text)
		if !strings.Contains(strings.Join(c.Warnings, "\n"), tc.want) {
			t.Errorf("want warning %q, got %q", tc.want, c.Warnings)
		}
	}
	one := mustParse(t, q+"server.1=a:1:2\n")
	if !one.Standalone() || one.QuorumSize() != 1 {
		t.Errorf("one server: standalone %v", one.Standalone())
	}
	notAlone := mustParse(t, q+"server.1=a:1:2\nstandaloneEnabled=false\n")
	if notAlone.Standalone() {
		t.Errorf("standaloneEnabled=false with one server must be a quorum")
	}
}

func TestServerForms(t *testing.T) {
	c := mustParse(t, "tickTime=2000\ndataDir=/d\ninitLimit=5\nsyncLimit=2\n"+
		"server.1=[2001:db8::1]:2888:3888;[::1]:2181\n"+
		"server.2=h2:2888:3888:participant;2182\n"+
		"server.3=h3:2888:3888:OBSERVER;127.0.0.1:2183\n"+
		"server.4=h4:2888:3888:\n"+ // trailing empty part dropped like String.split
		"server.5=h5:2888:3888;\n")
	want := map[int64]quorum.Server{
		1: {ID: 1, Host: "2001:db8::1", QuorumPort: 2888, ElectionPort: 3888, Role: quorum.Participant, ClientHost: "::1", ClientPort: 2181},
		2: {ID: 2, Host: "h2", QuorumPort: 2888, ElectionPort: 3888, Role: quorum.Participant, ClientHost: "0.0.0.0", ClientPort: 2182},
		3: {ID: 3, Host: "h3", QuorumPort: 2888, ElectionPort: 3888, Role: quorum.Observer, ClientHost: "127.0.0.1", ClientPort: 2183},
		4: {ID: 4, Host: "h4", QuorumPort: 2888, ElectionPort: 3888, Role: quorum.Participant, ClientHost: "", ClientPort: 0},
		5: {ID: 5, Host: "h5", QuorumPort: 2888, ElectionPort: 3888, Role: quorum.Participant, ClientHost: "", ClientPort: 0},
	}
	if !reflect.DeepEqual(c.Servers, want) {
		t.Errorf("servers\n got %+v\nwant %+v", c.Servers, want)
	}
}

func writeCfg(t *testing.T, dir, text, myid string) string {
	t.Helper()
	dd := filepath.Join(dir, "data")
	os.MkdirAll(dd, 0o755)
	if myid != "-" {
		os.WriteFile(filepath.Join(dd, "myid"), []byte(myid), 0o644)
	}
	p := filepath.Join(dir, "zoo.cfg")
	os.WriteFile(p, []byte(strings.ReplaceAll(text, "DATA", dd)), 0o644)
	return p
}

func TestMyID(t *testing.T) {
	q := "tickTime=2000\ndataDir=DATA\ninitLimit=5\nsyncLimit=2\nserver.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.1:2889:3889;2182\nserver.3=127.0.0.1:2890:3890:observer;2183\nserver.4=127.0.0.1:2891:3891;2184\n"
	ok := []struct {
		myid string
		id   int64
		port int
		typ  string
	}{
		{"1", 1, 2181, quorum.Participant}, {"2\n", 2, 2182, quorum.Participant}, {"3\r\n", 3, 2183, quorum.Observer}, {"4\nextra\n", 4, 2184, quorum.Participant},
	}
	for _, tc := range ok {
		p := writeCfg(t, t.TempDir(), q, tc.myid)
		c, err := Load(p, nil)
		if err != nil {
			t.Errorf("myid %q: %v", tc.myid, err)
			continue
		}
		if c.MyID != tc.id || c.ClientPort != tc.port || c.PeerType != tc.typ {
			t.Errorf("myid %q: id %d clientPort %d type %s", tc.myid, c.MyID, c.ClientPort, c.PeerType)
		}
	}
	bad := []struct{ myid, want string }{
		{"-", ": myid: myid file is missing: a server of a quorum needs its id there"},
		{"", ":1: myid: the file is empty: it must hold this server's id"},
		{" 1\n", `:1: myid: server id " 1" is not a number (blanks around the id are not allowed; upstream rejects them too)`},
		{"1 \n", `:1: myid: server id "1 " is not a number (blanks around the id are not allowed; upstream rejects them too)`},
		{"one", `:1: myid: server id "one" is not a number`},
		{"9", ":1: myid: server id 9 is not in the servers list of "},
	}
	for _, tc := range bad {
		dir := t.TempDir()
		p := writeCfg(t, dir, q, tc.myid)
		_, err := Load(p, nil)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "data", "myid")+tc.want) || !errors.Is(err, ErrMyID) {
			t.Errorf("myid %q: got %v, want %q", tc.myid, err, tc.want)
		}
	}
	// Standalone needs no myid; a myid there is still read.
	p := writeCfg(t, t.TempDir(), "dataDir=DATA\nclientPort=2181\n", "7")
	c, err := Load(p, nil)
	if err != nil || c.MyID != 7 || !c.Standalone() {
		t.Errorf("standalone: %v %+v", err, c)
	}
	// clientPort in the static part must agree with this server's line.
	p = writeCfg(t, t.TempDir(), q+"clientPort=2999\n", "1")
	if _, err := Load(p, nil); err == nil || !strings.Contains(err.Error(), "clientPort: client address 0.0.0.0:2999 differs from the one of server.1: 0.0.0.0:2181") {
		t.Errorf("got %v", err)
	}
}

func TestDynamicConfigFile(t *testing.T) {
	dir := t.TempDir()
	dyn := filepath.Join(dir, "zoo.cfg.dynamic.100000000")
	os.WriteFile(dyn, []byte("server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\nserver.2=127.0.0.1:2889:3889;2182\nserver.3=127.0.0.1:2890:3890;2183\n"), 0o644)
	p := writeCfg(t, dir, "tickTime=2000\ndataDir=DATA\ninitLimit=5\nsyncLimit=2\nreconfigEnabled=true\ndynamicConfigFile="+dyn+"\n", "2")
	c, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ConfigVersion != 0x100000000 || len(c.Voters()) != 3 || c.ClientPort != 2182 || c.ClientPortAddress != "0.0.0.0" || !c.ReconfigEnabled {
		t.Errorf("version %x voters %d clientPort %s:%d", c.ConfigVersion, len(c.Voters()), c.ClientPortAddress, c.ClientPort)
	}
	os.WriteFile(dyn, []byte("server.1=127.0.0.1:2888:3888\nclientPort=5\n"), 0o644)
	if _, err := Load(p, nil); err == nil || err.Error() != dyn+":2: clientPort: unrecognised parameter in a dynamic config file (only server.N)" {
		t.Errorf("got %v", err)
	}
	os.WriteFile(dyn, []byte("server.1=127.0.0.1:2888:3888\nversion=5\n"), 0o644)
	if _, err := Load(p, nil); err == nil || err.Error() != dyn+":2: version: the dynamic file must not have a version inside (it comes from the file name)" {
		t.Errorf("got %v", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	texts := []string{
		"tickTime=2000\ndataDir=DATA\nclientPort=2181\n",
		"tickTime=100\ninitLimit=10\nsyncLimit=5\ndataDir=DATA\ndataLogDir=/tmp/log dir\nclientPort=2181\nclientPortAddress=127.0.0.1\n" +
			"maxClientCnxns=0\nminSessionTimeout=300\nmaxSessionTimeout=9000\nautopurge.snapRetainCount=5\nautopurge.purgeInterval=1\n" +
			"4lw.commands.whitelist=*\nsnapCount=1000\npreAllocSize=128\nforceSync=no\nleaderServes=no\n" +
			"DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\nsslQuorum=false\nweird\\ key=a#b!\\\\c\n" +
			"server.1=127.0.0.1:2888:3888;127.0.0.1:2181\nserver.2=127.0.0.1:2889:3889;2182\nserver.3=[::1]:2890:3890\nserver.4=127.0.0.1:2891:3891:observer\n",
	}
	env := []string{"SERVER_JVMFLAGS=-Djute.maxbuffer=4194304 -Dzookeeper.extendedTypesEnabled=true"}
	for _, text := range texts {
		dir := t.TempDir()
		p := writeCfg(t, dir, text, "1")
		c1, err := Load(p, env)
		if err != nil {
			t.Fatal(err)
		}
		out := c1.Marshal()
		p2 := filepath.Join(dir, "zoo2.cfg")
		os.WriteFile(p2, out, 0o644)
		c2, err := Load(p2, env)
		if err != nil {
			t.Fatalf("reloading:\n%s\n%v", out, err)
		}
		c1.Path, c2.Path, c1.Warnings, c2.Warnings = "", "", nil, nil
		c1.fileProps, c2.fileProps = nil, nil
		if !reflect.DeepEqual(c1, c2) {
			t.Errorf("round trip differs:\n%+v\n%+v\n%s", c1, c2, out)
		}
		if !reflect.DeepEqual(c1.JVMFlags(), []string{"-Djute.maxbuffer=4194304"}) {
			t.Errorf("JVMFlags %q", c1.JVMFlags())
		}
	}
	// Typed fields changed in code are written.
	c := mustParse(t, "tickTime=2000\ndataDir=/d\nclientPort=1\n")
	c.SnapCount, c.ForceSync, c.FourLetterWords = 7, false, map[string]bool{"srvr": true, "mntr": true}
	c.Servers = map[int64]quorum.Server{1: {ID: 1, Host: "h", QuorumPort: 1, ElectionPort: 2, Role: quorum.Participant}}
	c2 := mustParse(t, string(c.Marshal()))
	if c2.SnapCount != 7 || c2.ForceSync || !c2.FourLetterWords["mntr"] || len(c2.Servers) != 1 {
		t.Errorf("got %+v from\n%s", c2, c.Marshal())
	}
}
