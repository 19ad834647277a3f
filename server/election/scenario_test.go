package election

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata/*.txt scenarios")

// Scenario files (testdata/*.txt) hold blocks of
//
//	command args...
//	----
//	expected output
//
// separated by blank lines; lines starting with # are comments. Commands:
//
//	cluster voters=1,2,3 [observers=4] [finalize=N] [maxnotify=N]
//	history ID zxid=X epoch=E    (before start; zxid may be hex)
//	start ID...                  boot (or reboot, with fresh state) and Start
//	look ID...                   Start a new round on a running node
//	stop ID...                   crash: drop the node and mail queued to it
//	deliver [drop=ID,..] [to=ID,..]   deliver queued messages once, in order
//	                                  (only those to the to= servers, if given)
//	stabilize [drop=ID,..] [to=ID,..] deliver until none is left (bounded)
//	tick [N] [ID...]             N ticks on the given (default: all) nodes
//	state                        each node's state, round and vote
//
// Output lists the messages each step produced ("1->2 LOOKING vote") and
// decisions ("1 decides LEADING vote"). Run go test -rewrite to regenerate
// the expected output, then read the diff.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios found: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScenario(t, f) })
	}
}

type scenario struct {
	t        *testing.T
	voters   []int64
	obs      []int64
	finalize int
	maxNote  int
	history  map[int64][2]int64
	nodes    map[int64]*Election
	queue    []Notification
}

func runScenario(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := &scenario{t: t, finalize: 3, maxNote: 8, history: map[int64][2]int64{}, nodes: map[int64]*Election{}}
	var out strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	failed := false
	for i := 0; i < len(lines); {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			i++
			continue
		}
		cmd := line
		i++
		if i >= len(lines) || lines[i] != "----" {
			t.Fatalf("%s:%d: command %q without ---- line", path, i, cmd)
		}
		i++
		var want []string
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			want = append(want, lines[i])
		}
		got := s.run(cmd)
		if !*rewrite && !slices.Equal(got, want) {
			t.Errorf("%s: %s\n got:\n  %s\nwant:\n  %s", path, cmd, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			failed = true
		}
		out.WriteString(cmd + "\n----\n")
		for _, l := range got {
			out.WriteString(l + "\n")
		}
	}
	if *rewrite && !failed {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func parseID(t *testing.T, s string) int64 {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("bad id %q", s)
	}
	return id
}

func parseIDs(t *testing.T, s string) []int64 {
	var ids []int64
	for _, f := range strings.Split(s, ",") {
		if f != "" {
			ids = append(ids, parseID(t, f))
		}
	}
	return ids
}

func (s *scenario) run(cmd string) []string {
	t := s.t
	f := strings.Fields(cmd)
	args := map[string]string{}
	var pos []string
	for _, a := range f[1:] {
		if k, v, ok := strings.Cut(a, "="); ok {
			args[k] = v
		} else {
			pos = append(pos, a)
		}
	}
	num := func(k string, def int) int {
		if v, ok := args[k]; ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("%s: bad %s", cmd, k)
			}
			return n
		}
		return def
	}
	var out []string
	switch f[0] {
	case "cluster":
		s.voters = parseIDs(t, args["voters"])
		s.obs = parseIDs(t, args["observers"])
		s.finalize = num("finalize", s.finalize)
		s.maxNote = num("maxnotify", s.maxNote)
		out = append(out, "ok")
	case "history":
		zxid, err := strconv.ParseInt(args["zxid"], 0, 64)
		if err != nil {
			t.Fatalf("%s: bad zxid", cmd)
		}
		s.history[parseID(t, pos[0])] = [2]int64{zxid, int64(num("epoch", 0))}
		out = append(out, "ok")
	case "start":
		for _, p := range pos {
			id := parseID(t, p)
			h := s.history[id]
			e := New(Config{ID: id, Voters: s.voters, Observers: s.obs, TickMs: 10,
				FinalizeWaitTicks: s.finalize, MaxNotifyIntervalTicks: s.maxNote}, h[0], h[1])
			s.nodes[id] = e
			e.Start()
			out = s.collect(out, id)
		}
	case "look":
		for _, p := range pos {
			id := parseID(t, p)
			s.nodes[id].Start()
			out = s.collect(out, id)
		}
	case "stop":
		for _, p := range pos {
			id := parseID(t, p)
			delete(s.nodes, id)
			s.drop(id) // mail in flight to it is lost; its own sent mail may still arrive
			out = append(out, fmt.Sprintf("%d stopped", id))
		}
	case "deliver", "stabilize":
		drop := parseIDs(t, args["drop"])
		only := parseIDs(t, args["to"])
		for round := 0; len(s.queue) > 0; round++ {
			if round == 100 {
				out = append(out, "still busy after 100 rounds")
				break
			}
			batch := s.queue
			s.queue = nil
			for _, m := range batch {
				if len(only) > 0 && !slices.Contains(only, m.To) {
					s.queue = append(s.queue, m) // stays in flight
					continue
				}
				if slices.Contains(drop, m.From) || slices.Contains(drop, m.To) {
					out = append(out, fmt.Sprintf("dropped %d->%d", m.From, m.To))
					continue
				}
				e := s.nodes[m.To]
				if e == nil {
					continue
				}
				e.Step(m)
				out = s.collect(out, m.To)
			}
			if f[0] == "deliver" {
				break
			}
		}
	case "tick":
		n := 1
		ids := s.ids()
		if len(pos) > 0 {
			var err error
			if n, err = strconv.Atoi(pos[0]); err != nil {
				t.Fatalf("%s: bad count", cmd)
			}
			if len(pos) > 1 {
				ids = nil
				for _, p := range pos[1:] {
					ids = append(ids, parseID(t, p))
				}
			}
		}
		for range n {
			for _, id := range ids {
				if e := s.nodes[id]; e != nil {
					e.Tick()
					out = s.collect(out, id)
				}
			}
		}
	case "state":
		for _, id := range s.ids() {
			e := s.nodes[id]
			out = append(out, fmt.Sprintf("%d %v round=%d vote=%v", id, e.State(), e.LogicalClock(), fmtVote(e.Vote())))
		}
	default:
		t.Fatalf("unknown command %q", cmd)
	}
	if len(out) == 0 {
		out = append(out, "(nothing)")
	}
	return out
}

func (s *scenario) ids() []int64 {
	var ids []int64
	for id := range s.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// drop forgets queued messages to id.
func (s *scenario) drop(id int64) {
	s.queue = slices.DeleteFunc(s.queue, func(m Notification) bool { return m.To == id })
}

func (s *scenario) collect(out []string, id int64) []string {
	e := s.nodes[id]
	rd := e.Ready()
	for _, m := range rd.Messages {
		out = append(out, fmt.Sprintf("%d->%d %v %s", m.From, m.To, m.State, fmtVote(m.Vote)))
		s.queue = append(s.queue, m)
	}
	if d := rd.Decided; d != nil {
		out = append(out, fmt.Sprintf("%d decides %v %s", id, d.State, fmtVote(d.Vote)))
	}
	e.Advance()
	return out
}

func fmtVote(v Vote) string {
	if v.Leader == NoVote {
		return fmt.Sprintf("(none round=%d)", v.ElectionEpoch)
	}
	return fmt.Sprintf("(leader=%d zxid=%#x epoch=%d round=%d)", v.Leader, v.Zxid, v.PeerEpoch, v.ElectionEpoch)
}
