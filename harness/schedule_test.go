package harness

import (
	"io"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	s, err := ParseSchedule(`
# the reliability run, by hand
at 10s kill follower as a; at 15s restart a
at 20s kill leader     # event 3
at 25s restart it
at 30s freeze 2
at 31s thaw it
at 40s partition any as p
at 41s delay follower 50ms
at 45s heal p
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{At: 10 * time.Second, Action: Kill, Target: Target{Kind: TargetFollower}, As: "a", Line: 3},
		{At: 15 * time.Second, Action: Restart, Target: Target{Kind: TargetRef, Ref: "a"}, Line: 3},
		{At: 20 * time.Second, Action: Kill, Target: Target{Kind: TargetLeader}, Line: 4, Note: "event 3"},
		{At: 25 * time.Second, Action: Restart, Target: Target{Kind: TargetRef, Ref: "it"}, Line: 5},
		{At: 30 * time.Second, Action: Freeze, Target: Target{Kind: TargetID, ID: 2}, Line: 6},
		{At: 31 * time.Second, Action: Thaw, Target: Target{Kind: TargetRef, Ref: "it"}, Line: 7},
		{At: 40 * time.Second, Action: Partition, Target: Target{Kind: TargetAny}, As: "p", Line: 8},
		{At: 41 * time.Second, Action: Delay, Target: Target{Kind: TargetFollower}, Arg: 50 * time.Millisecond, Line: 9},
		{At: 45 * time.Second, Action: Heal, Target: Target{Kind: TargetRef, Ref: "p"}, Line: 10},
	}
	if !reflect.DeepEqual(s.Steps, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", s.Steps, want)
	}
	if s.Duration() != 45*time.Second {
		t.Errorf("Duration %v", s.Duration())
	}
	// String renders what ParseSchedule reads back.
	again, err := ParseSchedule(s.String())
	if err != nil {
		t.Fatalf("re-parse of\n%s: %v", s, err)
	}
	for i := range again.Steps {
		again.Steps[i].Line, s.Steps[i].Line = 0, 0
	}
	if !reflect.DeepEqual(again.Steps, s.Steps) {
		t.Errorf("round trip changed the schedule:\n%s\n%s", s, again)
	}
}

func TestParseScheduleErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "no steps"},
		{"at 1s kil leader", `line 1: "at 1s kil leader": unknown action "kil"`},
		{"\n\nat x kill leader", "line 3:"},
		{"at -1s kill leader", "bad time"},
		{"kill leader", `want "at <duration>`},
		{"at 1s kill it", `"it" needs a previous step`},
		{"at 1s kill leader\nat 2s restart bob", `line 2: "at 2s restart bob": unknown target "bob"`},
		{"at 1s kill 0", "ids start at 1"},
		{"at 5s kill leader\nat 4s restart it", "line 2: time 4s is before the previous step's 5s"},
		{"at 1s delay leader", "needs a latency"},
		{"at 1s delay leader fast", `bad latency "fast"`},
		{"at 1s kill leader as leader", "reserved"},
		{"at 1s kill leader as 3", "is a number"},
		{"at 1s kill leader bob", `unexpected "bob"`},
	} {
		_, err := ParseSchedule(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseSchedule(%q) = %v, want error containing %q", c.in, err, c.want)
		}
	}
	s, _ := ParseSchedule("at 1s kill 9")
	if err := s.Validate(5); err == nil || !strings.Contains(err.Error(), "server 9 does not exist") {
		t.Errorf("Validate: %v", err)
	}
}

func TestPaperSchedule(t *testing.T) {
	d := 300 * time.Second
	s := PaperSchedule(d)
	if len(s.Steps) != 12 {
		t.Fatalf("%d steps", len(s.Steps))
	}
	var kills, leaderKills int
	notes := map[string]bool{}
	for i, st := range s.Steps {
		if i > 0 && st.At < s.Steps[i-1].At {
			t.Errorf("step %d goes back in time", i)
		}
		if st.At >= d {
			t.Errorf("step %d at %v is past the run", i, st.At)
		}
		notes[st.Note] = true
		if st.Action == Kill {
			kills++
			if st.Target.Kind == TargetLeader {
				leaderKills++
			}
		}
	}
	if kills != 6 || leaderKills != 2 || len(notes) != 5 {
		t.Errorf("kills %d leader kills %d events %v", kills, leaderKills, notes)
	}
	// Every failure is repaired by name.
	if _, err := ParseSchedule(s.String()); err != nil {
		t.Errorf("paper schedule does not re-parse: %v\n%s", err, s)
	}
}

// maxConcurrentDown replays a schedule's fault/repair pairs and returns
// the most faults open at once and the total time more than tolerated were.
func maxConcurrentDown(s Schedule, tolerated int) (int, time.Duration) {
	open := map[string]bool{}
	most := 0
	var lost time.Duration
	var lastT time.Duration
	for _, st := range s.Steps {
		if len(open) > tolerated {
			lost += st.At - lastT
		}
		lastT = st.At
		if st.As != "" {
			open[st.As] = true
		} else {
			delete(open, st.Target.Ref)
		}
		most = max(most, len(open))
	}
	return most, lost
}

func TestRandomScheduleKeepsQuorum(t *testing.T) {
	for seed := range uint64(200) {
		for _, n := range []int{3, 5, 7} {
			s, err := RandomSchedule(rand.New(rand.NewPCG(seed, 1)), RandomOptions{
				Duration: 120 * time.Second, Servers: n, MeanGap: 3 * time.Second, MaxDown: 10 * time.Second,
				Faults: []Action{Kill, Freeze, Partition},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Steps) == 0 {
				t.Fatalf("seed %d n %d: empty schedule", seed, n)
			}
			most, lost := maxConcurrentDown(s, (n-1)/2)
			if most > (n-1)/2 || lost > 0 {
				t.Fatalf("seed %d n %d: %d down at once, quorum lost %v:\n%s", seed, n, most, lost, s)
			}
			if s.Duration() > 120*time.Second {
				t.Fatalf("runs past its duration: %v", s.Duration())
			}
			if _, err := ParseSchedule(s.String()); err != nil {
				t.Fatalf("does not re-parse: %v", err)
			}
		}
	}
}

func TestRandomScheduleQuorumLossBound(t *testing.T) {
	loss := 2 * time.Second
	sawLoss := false
	for seed := range uint64(200) {
		s, err := RandomSchedule(rand.New(rand.NewPCG(seed, 2)), RandomOptions{
			Duration: 60 * time.Second, Servers: 3, MeanGap: time.Second, MaxDown: 6 * time.Second, MaxQuorumLoss: loss,
		})
		if err != nil {
			t.Fatal(err)
		}
		// Each fault, checked when it is added, costs at most loss; the
		// replay sums over all of them, so bound the sum by faults*loss
		// and each single overlap by checking no three are open at once
		// for long.
		_, lost := maxConcurrentDown(s, 1)
		faults := len(s.Steps) / 2
		if lost > time.Duration(faults)*loss {
			t.Fatalf("seed %d: quorum lost %v over %d faults", seed, lost, faults)
		}
		sawLoss = sawLoss || lost > 0
	}
	if !sawLoss {
		t.Error("MaxQuorumLoss > 0 never produced an overlap: the option has no effect")
	}
}

func TestRandomScheduleDeterministic(t *testing.T) {
	o := RandomOptions{Duration: time.Minute, Servers: 5}
	a, _ := RandomSchedule(rand.New(rand.NewPCG(7, 7)), o)
	b, _ := RandomSchedule(rand.New(rand.NewPCG(7, 7)), o)
	c, _ := RandomSchedule(rand.New(rand.NewPCG(8, 7)), o)
	if a.String() != b.String() {
		t.Error("same seed, different schedules")
	}
	if a.String() == c.String() {
		t.Error("different seeds, same schedule")
	}
	if _, err := RandomSchedule(rand.New(rand.NewPCG(1, 1)), RandomOptions{Duration: time.Minute, Servers: 3, Faults: []Action{Restart}}); err == nil {
		t.Error("restart accepted as a random fault")
	}
}

func TestRenderConfig(t *testing.T) {
	yes := true
	o := Options{Impl: ImplJava, Servers: 2, Observers: 1, ExtraConfig: map[string]string{"maxClientCnxns": "5000", "snapCount": "10000"}, ForceSync: &yes}
	if err := o.withDefaults(); err != nil {
		t.Fatal(err)
	}
	got := renderConfig(&o, configParams{
		self: 3, observer: true, clientPort: 2181, dataDir: "/d", dataLogDir: "/l/server-3", java: true,
		peers: []peerEntry{{1, 3001, 4001, false}, {2, 3002, 4002, false}, {3, 3003, 4003, true}},
	})
	want := `# Generated by zkbench's harness for server 3.
tickTime=2000
initLimit=10
syncLimit=5
dataDir=/d
dataLogDir=/l/server-3
clientPort=2181
clientPortAddress=127.0.0.1
maxClientCnxns=5000
4lw.commands.whitelist=*
standaloneEnabled=false
leaderServes=no
admin.enableServer=false
forceSync=yes
peerType=observer
snapCount=10000
server.1=127.0.0.1:3001:4001
server.2=127.0.0.1:3002:4002
server.3=127.0.0.1:3003:4003:observer
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if d := dataLogDirFor("/mnt/log/{id}/zk", 4); d != "/mnt/log/4/zk" {
		t.Errorf("template: %s", d)
	}
	if d := dataLogDirFor("/mnt/log/", 4); d != "/mnt/log/server-4" {
		t.Errorf("dir: %s", d)
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{}, "Impl is empty"},
		{Options{Impl: "rust"}, `unknown impl "rust"`},
		{Options{Impl: ImplGo}, "needs Options.GoCommand"},
		{Options{Impl: ImplExternal}, "needs Options.Connect"},
		{Options{Impl: ImplJava, Servers: -1}, "must not be negative"},
	} {
		err := c.o.withDefaults()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
}

func TestElectionRewriter(t *testing.T) {
	msg := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 15}
	msg = append(msg, "127.0.0.1:23456"...)
	msg = append(msg, "vote"...)
	r := strings.NewReader(string(msg))
	got, err := electionRewriter("127.0.0.1:4")(r)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte{}, msg[:16]...), 0, 0, 0, 11)
	want = append(want, "127.0.0.1:4"...)
	if string(got) != string(want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "vote" {
		t.Fatalf("rewriter read past the handshake: left %q", rest)
	}
	// Anything else passes through.
	r = strings.NewReader("\x00\x00\x00\x00\x00\x00\x00\x02more")
	got, err = electionRewriter("x")(r)
	if err != nil || string(got) != "\x00\x00\x00\x00\x00\x00\x00\x02" {
		t.Fatalf("old protocol: %q %v", got, err)
	}
}

func TestReadScheduleFile(t *testing.T) {
	dir := t.TempDir()
	good := dir + "/good.txt"
	bad := dir + "/bad.txt"
	os.WriteFile(good, []byte("at 1s kill leader\n"), 0o644)
	os.WriteFile(bad, []byte("at 1s kill leader\nat 2s explode it\n"), 0o644)
	s, err := ReadScheduleFile(good)
	if err != nil || len(s.Steps) != 1 || s.Name != "good.txt" {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := ReadScheduleFile(bad); err == nil || !strings.HasPrefix(err.Error(), bad+": harness: schedule line 2:") {
		t.Fatalf("bad file: %v", err)
	}
	if _, err := ReadScheduleFile(dir + "/missing"); err == nil {
		t.Fatal("missing file: no error")
	}
}
