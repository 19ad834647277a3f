package server_test

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server/proto"
)

// Dynamic reconfiguration, cross-checked against upstream: one script of
// reconfig requests, good and bad, run against a three-server ensemble of
// upstream Java ZooKeeper 3.8 and of the Go server. It adds a fourth server,
// removes a follower, then the leader, and records every reply (error code,
// returned config, stat), /zookeeper/config as each server sees it, the
// srvr modes, the membership part of conf, and the config files each
// server rewrote. Ports are replaced by symbolic names and the temporary
// directory by $ROOT; everything else must match line for line.

// reconfigSecret is the super user's password; the digest goes in zoo.cfg.
const reconfigSecret = "super:test"

// rcMatchesJava runs a script on Java 3.8 and on the Go ensemble and
// compares the transcripts.
func rcMatchesJava(t *testing.T, run func(t *testing.T, java bool) []string) {
	t.Helper()
	zktest.RequireJava(t)
	want := run(t, true)
	got := run(t, false)
	rcCompare(t, want, got)
}

func TestIntegrationReconfigMatchesJava(t *testing.T) {
	rcMatchesJava(t, runReconfigScript)
}

// With reconfigEnabled unset, a reconfig is refused before anything else
// is looked at, on both servers.
func TestIntegrationReconfigDisabledMatchesJava(t *testing.T) {
	rcMatchesJava(t, runReconfigDisabled)
}

// With skipACL=yes anyone may reconfig, as upstream documents; with
// standaloneEnabled=true (the default) a new config needs two voters.
func TestIntegrationReconfigSkipACLMatchesJava(t *testing.T) {
	rcMatchesJava(t, runReconfigSkipACL)
}

// A config in the old format (server lines without client ports, and
// clientPort in the static file): the client port stays in the static file
// until a reconfig gives the server one.
func TestIntegrationReconfigLegacyConfigMatchesJava(t *testing.T) {
	rcMatchesJava(t, runReconfigLegacy)
}

// A standalone server refuses reconfig: it has no quorum to change.
func TestIntegrationReconfigStandaloneMatchesJava(t *testing.T) {
	zktest.RequireJava(t)
	extra := []string{"reconfigEnabled=true", "skipACL=yes"}
	var want, got []string
	for _, java := range []bool{true, false} {
		var addr string
		if java {
			addr = zktest.StartJava(t, extra...).Addr
		} else {
			addr = zktest.StartGo(t, extra...).Addr
		}
		r := newRCRun(t, java)
		r.addr[1] = addr
		c := r.dial(1)
		r.reconfig(c, "standalone", &rcReconfig{leaving: rcStr("1"), from: -1})
		if java {
			want = r.lines
		} else {
			got = r.lines
		}
	}
	rcCompare(t, want, got)
}

// A server whose own config gives it a different role (observer or
// participant) from the one the running ensemble's config gives it adopts
// the ensemble's config when it joins.
func TestIntegrationReconfigRoleMismatchMatchesJava(t *testing.T) {
	zktest.RequireJava(t)
	for _, roles := range [][2]string{{"observer", "participant"}, {"participant", "observer"}} {
		t.Run("own="+roles[0]+",others="+roles[1], func(t *testing.T) {
			want := runReconfigRoleMismatch(t, true, roles[0], roles[1])
			got := runReconfigRoleMismatch(t, false, roles[0], roles[1])
			rcCompare(t, want, got)
		})
	}
}

// rcCompare fails the test when the transcripts differ, printing a
// unified-style diff (longest common subsequence) so that one missing line
// does not turn every later line into a difference.
func rcCompare(t *testing.T, java, gosrv []string) {
	t.Helper()
	n, m := len(java), len(gosrv)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if java[i] == gosrv[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	diffs := 0
	for i, j := 0, 0; i < n || j < m; {
		switch {
		case i < n && j < m && java[i] == gosrv[j]:
			out = append(out, "  "+java[i])
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out = append(out, "+ "+gosrv[j])
			diffs++
			j++
		default:
			out = append(out, "- "+java[i])
			diffs++
			i++
		}
	}
	if diffs == 0 {
		t.Logf("%d lines identical", n)
		if testing.Verbose() {
			t.Logf("transcript:\n%s", strings.Join(java, "\n"))
		}
		return
	}
	t.Errorf("the Go server differs from upstream in %d lines (- java, + go):\n%s", diffs, strings.Join(out, "\n"))
}

// rcRun is one run of the script against one implementation.
type rcRun struct {
	t      *testing.T
	java   bool
	root   string
	lines  []string
	ports  map[int]string // port -> symbolic name
	spec   map[int]string // server id -> its "server.N=..." line (participant)
	addr   map[int]string // server id -> client address
	quorum map[int]int    // server id -> quorum port
	legacy map[int]string // server id -> "server.N=host:quorum:election"
	client map[int]int    // server id -> client port
	procs  map[int]*zktest.Process
	// lastReconfig, once set, matches the zxid of the last successful
	// reconfig of a pipelined batch, whose outcome depends on timing; norm
	// names it, so that what follows compares.
	lastReconfig *regexp.Regexp
}

func newRCRun(t *testing.T, java bool, ids ...int) *rcRun {
	r := &rcRun{t: t, java: java, root: t.TempDir(), ports: map[int]string{},
		spec: map[int]string{}, addr: map[int]string{}, quorum: map[int]int{}, legacy: map[int]string{}, client: map[int]int{}, procs: map[int]*zktest.Process{}}
	for _, id := range ids {
		c, q, e := zktest.FreePort(t), zktest.FreePort(t), zktest.FreePort(t)
		r.ports[c] = fmt.Sprintf("PORT_client_%d", id)
		r.ports[q] = fmt.Sprintf("PORT_quorum_%d", id)
		r.ports[e] = fmt.Sprintf("PORT_election_%d", id)
		r.spec[id] = fmt.Sprintf("server.%d=127.0.0.1:%d:%d:participant;127.0.0.1:%d", id, q, e, c)
		r.addr[id] = fmt.Sprintf("127.0.0.1:%d", c)
		r.quorum[id] = q
		r.client[id] = c
		r.legacy[id] = fmt.Sprintf("server.%d=127.0.0.1:%d:%d", id, q, e)
	}
	return r
}

func (r *rcRun) log(format string, args ...any) {
	r.lines = append(r.lines, r.norm(fmt.Sprintf(format, args...)))
}

var rcPortRE = regexp.MustCompile(`\b[0-9]{5}\b`)

// norm replaces the test's ports by their names and the root directory by
// $ROOT, and quotes newlines.
func (r *rcRun) norm(s string) string {
	s = strings.ReplaceAll(s, r.root, "$ROOT")
	if r.lastReconfig != nil {
		s = r.lastReconfig.ReplaceAllString(s, "${1}LAST_RECONFIG")
	}
	s = rcPortRE.ReplaceAllStringFunc(s, func(p string) string {
		n, _ := strconv.Atoi(p)
		if name, ok := r.ports[n]; ok {
			return name
		}
		return p
	})
	return strings.ReplaceAll(s, "\n", `\n`)
}

// writeConfig writes server id's zoo.cfg (with the given server lines) and
// myid, returning the config path.
func (r *rcRun) writeConfig(id int, extra []string, servers ...string) string {
	dir := filepath.Join(r.root, fmt.Sprintf("s%d", id))
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", id)), 0o644); err != nil {
		r.t.Fatal(err)
	}
	sum := sha1.Sum([]byte(reconfigSecret))
	user, _, _ := strings.Cut(reconfigSecret, ":")
	// The raw clients send no pings: maxSessionTimeout keeps an idle one's
	// session alive however slowly a loaded machine runs the script (the
	// default, 20 ticks, is 4 s: an expiry then spends a zxid on one side).
	lines := []string{"tickTime=200", "initLimit=10", "syncLimit=5", "maxSessionTimeout=60000", "dataDir=" + data,
		"4lw.commands.whitelist=*", "admin.enableServer=false", "maxClientCnxns=0",
		"DigestAuthenticationProvider.superDigest=" + user + ":" + base64.StdEncoding.EncodeToString(sum[:])}
	if !slices.ContainsFunc(extra, func(l string) bool { return strings.HasPrefix(l, "standaloneEnabled=") }) {
		lines = append(lines, "standaloneEnabled=false")
	}
	lines = append(lines, extra...)
	lines = append(lines, servers...)
	cfg := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		r.t.Fatal(err)
	}
	return cfg
}

// tryDial opens a raw session with server id, retrying for 5 s while the
// server starts or elects.
func (r *rcRun) tryDial(id int) (c *zktest.RawClient, err error) {
	for try := 0; try < 50; try++ {
		if c, err = zktest.DialRaw(r.addr[id], 60*time.Second); err == nil {
			return c, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, err
}

// startThree starts servers 2 and 3 first, so that server 3 leads (equal
// zxids: the highest id wins), then server 1, which follows.
func (r *rcRun) startThree(t *testing.T, java bool, cfgs []string) {
	e := zktest.StartConfigs(t, java, cfgs[1:], []string{r.addr[2], r.addr[3]})
	r.procs[2], r.procs[3] = e.Servers[0], e.Servers[1]
	r.procs[1] = zktest.NewProcess(t, java, cfgs[0], r.addr[1])
	r.procs[1].Start()
}

// dial opens a raw session with server id.
func (r *rcRun) dial(id int) *zktest.RawClient {
	r.t.Helper()
	c, err := r.tryDial(id)
	if err != nil {
		r.t.Fatalf("dial server %d: %v", id, err)
	}
	r.t.Cleanup(func() { c.Close() })
	return c
}

// rcReconfig is the reconfig request with its strings nullable, as
// upstream's clients send them: a nil field goes on the wire as null
// (length -1), which upstream tells apart from "".
type rcReconfig struct {
	joining, leaving, members *string
	from                      int64
}

func (q *rcReconfig) Encode(e *proto.Encoder) {
	for _, s := range []*string{q.joining, q.leaving, q.members} {
		if s == nil {
			e.Int(-1)
		} else {
			e.String(*s)
		}
	}
	e.Long(q.from)
}

// Decode is never used: the record is only sent.
func (q *rcReconfig) Decode(d *proto.Decoder) {}

func rcStr(s string) *string { return &s }

func (q *rcReconfig) String() string {
	f := func(s *string) string {
		if s == nil {
			return "null"
		}
		return strconv.Quote(*s)
	}
	return fmt.Sprintf("joining=%s leaving=%s members=%s from=%#x", f(q.joining), f(q.leaving), f(q.members), q.from)
}

func rcStat(st proto.Stat) string {
	return fmt.Sprintf("czxid=%#x mzxid=%#x pzxid=%#x ver=%d cver=%d aver=%d owner=%#x len=%d kids=%d",
		st.Czxid, st.Mzxid, st.Pzxid, st.Version, st.Cversion, st.Aversion, st.EphemeralOwner, st.DataLength, st.NumChildren)
}

// reconfig sends q on c and logs the outcome under name.
func (r *rcRun) reconfig(c *zktest.RawClient, name string, q *rcReconfig) proto.ErrCode {
	r.t.Helper()
	var resp proto.GetDataResponse
	h, err := c.Do(proto.OpReconfig, q, &resp)
	if err != nil {
		r.t.Fatalf("%s: reconfig %v: %v", name, q, err)
	}
	if h.Err != proto.ErrOK {
		r.log("%s: %v -> %v zxid=%#x", name, q, h.Err, h.Zxid)
		return h.Err
	}
	r.log("%s: %v -> ok zxid=%#x data=%q stat: %s", name, q, h.Zxid, resp.Data, rcStat(resp.Stat))
	return h.Err
}

// pipelined sends n copies of q on c without waiting and logs each reply.
func (r *rcRun) pipelined(c *zktest.RawClient, name string, n int, q *rcReconfig) {
	r.t.Helper()
	var buf []byte
	for i := 0; i < n; i++ {
		buf = proto.AppendRequest(buf, proto.RequestHeader{Xid: int32(1000 + i), Type: proto.OpReconfig}, q)
	}
	var last int64 // zxid of the last success
	if err := c.Raw(buf); err != nil {
		r.t.Fatalf("%s: %v", name, err)
	}
	for i := 0; i < n; i++ {
		c.Conn().SetReadDeadline(time.Now().Add(10 * time.Second))
		frame, err := proto.ReadFrame(c.Conn(), nil, proto.DefaultMaxBuffer)
		if err != nil {
			r.t.Fatalf("%s: reply %d: %v", name, i, err)
		}
		d := proto.NewDecoder(frame)
		var h proto.ReplyHeader
		h.Decode(d)
		if h.Err == proto.ErrOK {
			last = h.Zxid
		}
		if i < 2 || h.Err != proto.ErrOK && h.Err != proto.ErrReconfigInProgress {
			r.log("%s: %v #%d -> %v zxid=%#x", name, q, h.Xid-1000, h.Err, h.Zxid)
			continue
		}
		// The first is in flight when the second arrives, in the same
		// packet; whether it has committed by the time the third is
		// prepared depends on timing, on both servers.
		r.log("%s: %v #%d -> OK or RECONFIGINPROGRESS", name, q, h.Xid-1000)
	}
	if last != 0 {
		r.lastReconfig = regexp.MustCompile(fmt.Sprintf(`\b(0x)?%x\b`, last))
	}
}

// getConfig logs /zookeeper/config as server id sees it after a sync.
func (r *rcRun) getConfig(id int) {
	r.t.Helper()
	c, err := r.tryDial(id)
	if err != nil {
		r.log("server %d /zookeeper/config: no session: %v", id, err)
		return
	}
	defer c.Close()
	if h, err := c.Do(proto.OpSync, &proto.SyncRequest{Path: "/zookeeper/config"}, &proto.SyncResponse{}); err != nil || h.Err != proto.ErrOK {
		r.log("server %d sync: %v %v", id, h.Err, err != nil)
	}
	var resp proto.GetDataResponse
	h, err := c.Do(proto.OpGetData, &proto.GetDataRequest{Path: "/zookeeper/config"}, &resp)
	if err != nil || h.Err != proto.ErrOK {
		r.log("server %d /zookeeper/config: %v %v", id, h.Err, err != nil)
		return
	}
	r.log("server %d /zookeeper/config: %q stat: %s", id, resp.Data, rcStat(resp.Stat))
}

// state logs, for each running server: /zookeeper/config, its srvr mode,
// the membership lines of conf and its config files.
func (r *rcRun) state(label string, ids ...int) {
	r.t.Helper()
	r.log("== %s", label)
	for _, id := range ids {
		r.getConfig(id)
	}
	for _, id := range ids {
		r.log("server %d mode: %s", id, rcMode(r.addr[id]))
	}
	for _, id := range ids {
		out, err := zktest.FourLetterWord(r.addr[id], "conf", time.Second)
		if err != nil {
			r.log("server %d conf: %v", id, err)
			continue
		}
		_, membership, ok := strings.Cut(out, "membership: \n")
		if !ok {
			r.log("server %d conf has no membership section", id)
			continue
		}
		r.log("server %d conf membership: %q", id, membership)
	}
	for _, id := range ids {
		r.files(id)
	}
}

func rcMode(addr string) string {
	out, err := zktest.FourLetterWord(addr, "srvr", time.Second)
	if err != nil {
		return "no answer"
	}
	for _, line := range strings.Split(out, "\n") {
		if m, ok := strings.CutPrefix(line, "Mode: "); ok {
			return m
		}
	}
	return strings.TrimSpace(out)
}

// files logs the names and contents of server id's config files.
func (r *rcRun) files(id int) {
	r.t.Helper()
	dir := filepath.Join(r.root, fmt.Sprintf("s%d", id))
	ents, err := os.ReadDir(dir)
	if err != nil {
		r.t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "zoo.cfg") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	r.log("server %d files: %s", id, strings.Join(names, " "))
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			r.t.Fatal(err)
		}
		text := rcDropComments(string(b))
		if n == "zoo.cfg" {
			// Upstream writes the static file in the iteration order of a
			// java.util.Properties (a hash table): compare it as a set.
			lines := strings.SplitAfter(text, "\n")
			sort.Strings(lines)
			text = "sorted: " + strings.Join(lines, "")
		}
		r.log("server %d %s: %q", id, n, text)
	}
}

// rcDropComments drops the date comment java.util.Properties writes.
func rcDropComments(s string) string {
	var out []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// settle waits until one of voters leads and every other server of ids
// follows or observes, three polls in a row, and logs the modes. It looks
// only at srvr: a session would spend a zxid.
func (r *rcRun) settle(timeout time.Duration, voters []int, ids ...int) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	stable := 0
	for {
		leaders, others := 0, 0
		var modes []string
		for _, id := range ids {
			m := rcMode(r.addr[id])
			modes = append(modes, fmt.Sprintf("%d:%s", id, m))
			switch {
			case m == "leader" && slices.Contains(voters, id):
				leaders++
			case m == "follower" || m == "observer":
				others++
			}
		}
		if leaders == 1 && leaders+others == len(ids) {
			stable++
		} else {
			stable = 0
		}
		if stable == 3 || time.Now().After(deadline) {
			r.log("settled: %s", strings.Join(modes, " "))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func runReconfigScript(t *testing.T, java bool) []string {
	r := newRCRun(t, java, 1, 2, 3, 4)
	fake := newRCRun(t, java, 5, 6, 7) // members that never run
	for p, n := range fake.ports {
		r.ports[p] = n
	}
	extra := []string{"reconfigEnabled=true"}
	three := []string{r.spec[1], r.spec[2], r.spec[3]}
	var cfgs []string
	for id := 1; id <= 3; id++ {
		cfgs = append(cfgs, r.writeConfig(id, extra, three...))
	}
	r.startThree(t, java, cfgs)
	r.state("three servers", 1, 2, 3)

	// Without auth: validation comes first, the ACL check last.
	anon := r.dial(1)
	r.reconfig(anon, "anonymous, no quorum", &rcReconfig{joining: rcStr(fake.spec[5] + "," + fake.spec[6] + "," + fake.spec[7]), from: -1})
	r.reconfig(anon, "anonymous, valid", &rcReconfig{leaving: rcStr("1"), from: -1})

	var acl proto.GetACLResponse
	h, err := anon.Do(proto.OpGetACL, &proto.GetACLRequest{Path: "/zookeeper/config"}, &acl)
	r.log("getACL /zookeeper/config: %v %+v stat: %s %v", h.Err, acl.ACL, rcStat(acl.Stat), err)
	bob := r.dial(1)
	code, err := bob.AddAuth("digest", []byte("bob:secret"))
	r.log("addauth digest bob: %v %v", code, err)
	r.reconfig(bob, "digest user, not super", &rcReconfig{leaving: rcStr("1"), from: -1})

	admin := r.dial(1)
	code, err = admin.AddAuth("digest", []byte(reconfigSecret))
	if err != nil || code != proto.ErrOK {
		t.Fatalf("addauth: %v %v", code, err)
	}
	r.reconfig(admin, "bad version", &rcReconfig{leaving: rcStr("1"), from: 0x1})
	// go-zookeeper sends joining and leaving as "" rather than null.
	gz := connect(t, r.addr[1])
	if err := gz.AddAuth("digest", []byte(reconfigSecret)); err != nil {
		t.Fatal(err)
	}
	st, err := gz.IncrementalReconfig(nil, []string{"1"}, 1)
	r.log("go-zookeeper IncrementalReconfig from version 1: %v mzxid=%#x", errName(err), st.Mzxid)
	r.reconfig(admin, "no quorum", &rcReconfig{joining: rcStr(fake.spec[5] + "," + fake.spec[6] + "," + fake.spec[7]), from: -1})
	r.reconfig(admin, "no quorum, one leaves", &rcReconfig{joining: rcStr(fake.spec[5] + "," + fake.spec[6]), leaving: rcStr("2"), from: -1})
	r.reconfig(admin, "no voters", &rcReconfig{leaving: rcStr("1,2,3"), from: -1})
	r.reconfig(admin, "no '='", &rcReconfig{joining: rcStr("server.5"), from: -1})
	r.reconfig(admin, "no client port", &rcReconfig{joining: rcStr(strings.Split(fake.spec[5], ";")[0]), from: -1})
	// Upstream's duplicate-address check skips loopback and wildcard
	// addresses, so this one is accepted (server 5 is a voter that never
	// runs until the non-incremental reconfig below drops it); between two
	// non-loopback joiners it is BADARGUMENTS.
	dupAddr := strings.Replace(fake.spec[5], fmt.Sprint(fake.quorum[5]), fmt.Sprint(r.quorum[1]), 1)
	r.reconfig(admin, "quorum address of server 1", &rcReconfig{joining: rcStr(dupAddr), from: -1})
	r.reconfig(admin, "two joiners share an address", &rcReconfig{joining: rcStr("server.5=10.0.0.5:1000:1001:participant;10.0.0.5:1002,server.6=10.0.0.5:1000:1003:participant;10.0.0.5:1004," + fake.spec[7]), from: -1})
	// A repeated id: the last spec wins, no error of its own.
	r.reconfig(admin, "same id twice", &rcReconfig{joining: rcStr(fake.spec[5] + "," + strings.Replace(fake.spec[6], "server.6", "server.5", 1) + "," + fake.spec[6] + "," + fake.spec[7]), from: -1})
	// Upstream's number parse and its empty-config parse throw runtime
	// exceptions: MARSHALLINGERROR. A "" members string (not null) means a
	// non-incremental reconfig.
	r.reconfig(admin, "leaving not a number", &rcReconfig{leaving: rcStr("x"), from: -1})
	r.reconfig(admin, "empty new members", &rcReconfig{members: rcStr(""), from: -1})
	r.reconfig(admin, "non-incremental, no quorum", &rcReconfig{members: rcStr(strings.Join([]string{r.spec[1], fake.spec[5], fake.spec[6]}, ",")), from: -1})
	r.state("after the bad requests", 1, 2, 3)

	// The fourth server: the three members plus itself as a participant.
	cfg4 := r.writeConfig(4, extra, r.spec[1], r.spec[2], r.spec[3], r.spec[4])
	r.procs[4] = zktest.NewProcess(t, java, cfg4, r.addr[4])
	r.procs[4].Start()
	r.state("server 4 started", 1, 2, 3, 4)
	r.reconfig(anon, "anonymous add 4", &rcReconfig{joining: rcStr(r.spec[4]), from: -1})
	r.reconfig(admin, "add 4", &rcReconfig{joining: rcStr(r.spec[4]), from: -1})
	r.state("server 4 added", 1, 2, 3, 4)

	w := r.dial(2)
	var cr proto.CreateResponse
	for i := 0; i < 3; i++ {
		h, err := w.Do(proto.OpCreate, &proto.CreateRequest{Path: fmt.Sprintf("/r%d", i), Data: []byte("v"), ACL: []proto.ACL{{Perms: 31, ID: proto.ID{Scheme: "world", ID: "anyone"}}}}, &cr)
		r.log("create /r%d: %v zxid=%#x %v", i, h.Err, h.Zxid, err)
	}
	c4 := r.dial(4)
	c4.Do(proto.OpSync, &proto.SyncRequest{Path: "/r2"}, &proto.SyncResponse{})
	var gd proto.GetDataResponse
	h, err = c4.Do(proto.OpGetData, &proto.GetDataRequest{Path: "/r2"}, &gd)
	r.log("server 4 reads /r2: %v %q stat: %s %v", h.Err, gd.Data, rcStat(gd.Stat), err)

	r.reconfig(admin, "leave a non-member", &rcReconfig{leaving: rcStr("7"), from: -1})
	r.reconfig(admin, "nothing at all", &rcReconfig{from: -1})
	r.reconfig(admin, "non-incremental, same members", &rcReconfig{members: rcStr(strings.Join([]string{r.spec[4], r.spec[3], r.spec[2], r.spec[1]}, "\n")), from: -1})
	r.state("after the no-op changes", 1, 2, 3, 4)

	// Remove follower 1: the client sits on server 1 itself.
	r.reconfig(admin, "remove 1", &rcReconfig{leaving: rcStr("1"), from: -1})
	r.state("server 1 removed", 1, 2, 3, 4)
	h, err = admin.Do(proto.OpCreate, &proto.CreateRequest{Path: "/via1", Data: []byte("v"), ACL: []proto.ACL{{Perms: 31, ID: proto.ID{Scheme: "world", ID: "anyone"}}}}, &cr)
	r.log("create through removed server 1: %v zxid=%#x %v", h.Err, h.Zxid, err)

	// Remove the leader, through server 2.
	admin2 := r.dial(2)
	admin2.AddAuth("digest", []byte(reconfigSecret))
	// Every server drops its clients when the leader goes, so the reply
	// may or may not arrive first; the outcome is read afterwards.
	q := &rcReconfig{leaving: rcStr("3"), from: -1}
	h, err = admin2.Do(proto.OpReconfig, q, &proto.GetDataResponse{})
	switch {
	case err != nil || h.Err == proto.ErrOK:
		r.log("remove leader 3: %v -> ok or connection lost", q)
	default:
		r.log("remove leader 3: %v -> %v zxid=%#x", q, h.Err, h.Zxid)
	}
	r.settle(10*time.Second, []int{2, 4}, 1, 2, 3, 4)
	r.state("leader 3 removed", 1, 2, 3, 4)
	after := r.dial(4)
	h, err = after.Do(proto.OpCreate, &proto.CreateRequest{Path: "/after-handoff", Data: []byte("v"), ACL: []proto.ACL{{Perms: 31, ID: proto.ID{Scheme: "world", ID: "anyone"}}}}, &cr)
	r.log("create after the hand-off: %v zxid=%#x %v", h.Err, h.Zxid, err)

	// A removed server restarted on its rewritten config.
	r.procs[1].Kill()
	r.procs[1].Launch()
	deadline := time.Now().Add(8 * time.Second)
	for r.procs[1].Running() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	r.log("removed server 1 restarted: running=%v mode=%s", r.procs[1].Running(), rcMode(r.addr[1]))
	return r.lines
}

func runReconfigDisabled(t *testing.T, java bool) []string {
	r := newRCRun(t, java, 1, 2, 3)
	three := []string{r.spec[1], r.spec[2], r.spec[3]}
	var cfgs []string
	for id := 1; id <= 3; id++ {
		cfgs = append(cfgs, r.writeConfig(id, nil, three...))
	}
	zktest.StartConfigs(t, java, cfgs, []string{r.addr[1], r.addr[2], r.addr[3]})
	r.getConfig(1)
	c := r.dial(1)
	r.reconfig(c, "anonymous", &rcReconfig{leaving: rcStr("1"), from: -1})
	c.AddAuth("digest", []byte(reconfigSecret))
	r.reconfig(c, "super", &rcReconfig{leaving: rcStr("1"), from: -1})
	r.reconfig(c, "super, bad version", &rcReconfig{leaving: rcStr("1"), from: 7})
	r.files(1)
	return r.lines
}

// runReconfigRoleMismatch starts servers 1 and 2 with server 3 listed as
// others, then server 3 with itself listed as own.
func runReconfigRoleMismatch(t *testing.T, java bool, own, others string) []string {
	r := newRCRun(t, java, 1, 2, 3)
	as := func(role string) string { return strings.Replace(r.spec[3], ":participant;", ":"+role+";", 1) }
	extra := []string{"reconfigEnabled=true"}
	cfg1 := r.writeConfig(1, extra, r.spec[1], r.spec[2], as(others))
	cfg2 := r.writeConfig(2, extra, r.spec[1], r.spec[2], as(others))
	cfg3 := r.writeConfig(3, extra, r.spec[1], r.spec[2], as(own))
	zktest.StartConfigs(t, java, []string{cfg1, cfg2}, []string{r.addr[1], r.addr[2]})
	p := zktest.NewProcess(t, java, cfg3, r.addr[3])
	p.Launch()
	r.settle(8*time.Second, []int{1, 2}, 1, 2, 3)
	r.state(fmt.Sprintf("server 3 started as %s, listed by the others as %s", own, others), 1, 2, 3)
	return r.lines
}

func runReconfigSkipACL(t *testing.T, java bool) []string {
	r := newRCRun(t, java, 1, 2, 3)
	three := []string{r.spec[1], r.spec[2], r.spec[3]}
	var cfgs []string
	for id := 1; id <= 3; id++ {
		cfgs = append(cfgs, r.writeConfig(id, []string{"reconfigEnabled=true", "skipACL=yes", "standaloneEnabled=true"}, three...))
	}
	zktest.StartConfigs(t, java, cfgs, []string{r.addr[1], r.addr[2], r.addr[3]})
	c := r.dial(1)
	r.reconfig(c, "anonymous, skipACL", &rcReconfig{leaving: rcStr("9"), from: -1})
	r.getConfig(2)
	// standaloneEnabled=true: a new config needs two voters.
	r.reconfig(c, "one voter left", &rcReconfig{leaving: rcStr("2,3"), from: -1})
	r.reconfig(c, "two voters left", &rcReconfig{leaving: rcStr("1"), from: -1})
	r.getConfig(2)
	// Three reconfigs at once: the second finds the first uncommitted; the
	// third may or may not.
	r.pipelined(c, "three at once", 3, &rcReconfig{leaving: rcStr("9"), from: -1})
	r.getConfig(2)
	return r.lines
}

func runReconfigLegacy(t *testing.T, java bool) []string {
	r := newRCRun(t, java, 1, 2, 3)
	var cfgs []string
	for id := 1; id <= 3; id++ {
		extra := []string{"reconfigEnabled=true", "skipACL=yes", fmt.Sprintf("clientPort=%d", r.client[id]), "clientPortAddress=127.0.0.1"}
		cfgs = append(cfgs, r.writeConfig(id, extra, r.legacy[1], r.legacy[2], r.legacy[3]))
	}
	r.startThree(t, java, cfgs)
	r.state("three servers, old format", 1, 2, 3)
	c := r.dial(1)
	r.reconfig(c, "give server 1 its client port", &rcReconfig{joining: rcStr(r.spec[1]), from: -1})
	r.state("server 1 has a client port", 1, 2, 3)
	return r.lines
}
