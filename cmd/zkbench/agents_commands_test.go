package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/fleet"
	"github.com/zkbench/zkbench/results"
)

// The tests of this file run reliability, sweep and compare through agents
// (real zkbench processes on loopback, as agents_test.go's).

// agentFixture is a coordination server with server and client agents.
type agentFixture struct {
	bin, dir, coord string
	srv, cli        []string
}

// newAgentFixture starts a coordination server under chroot, servers
// server agents on 127.0.0.1 and one client agent.
func newAgentFixture(t *testing.T, chroot string, servers int) *agentFixture {
	t.Helper()
	f := &agentFixture{bin: zkbenchBin(t), dir: t.TempDir()}
	f.coord = startServer(t, f.dir, "coord", f.bin) + "/" + chroot
	for i := range servers {
		f.srv = append(f.srv, "s"+string(rune('1'+i)))
	}
	f.srv = uniq(f.srv...)
	f.cli = uniq("c1")
	startAgents(t, f.dir, f.bin, f.coord, f.srv, "--addr", "127.0.0.1")
	startAgents(t, f.dir, f.bin, f.coord, f.cli, "--no-server")
	t.Cleanup(func() { waitNoServers(t, f.srv, 10*time.Second) })
	return f
}

// run runs zkbench args with the agents' flags and fails the test if it
// fails.
func (f *agentFixture) run(t *testing.T, name string, limit time.Duration, args ...string) string {
	t.Helper()
	args = append(args, "--agents", f.coord, "--server-agents", strings.Join(f.srv, ","), "--client-agents", f.cli[0],
		"--tick-time", "200", "--clients", "4", "--outstanding", "1", "--keys", "50", "--value-size", "16")
	p := start(t, f.dir, name, f.bin, args...)
	if err := p.wait(t, limit); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, p.output())
	}
	return p.output()
}

// checkAgentFiles checks that run directory rd holds agents.json (the
// client agent), servers.json (servers servers of impl on the server
// agents) and both sections of the report.
func checkAgentFiles(t *testing.T, f *agentFixture, rd, impl string, servers int) {
	t.Helper()
	as := readAgents(t, rd)
	if len(as) != 1 || as[0].Name != f.cli[0] || as[0].Ops == 0 {
		t.Errorf("%s: agents %+v: want %s with its operations", rd, as, f.cli[0])
	}
	b, err := os.ReadFile(filepath.Join(rd, serversFile))
	if err != nil {
		t.Fatal(err)
	}
	var ss []fleet.HostedServer
	if err := json.Unmarshal(b, &ss); err != nil {
		t.Fatal(err)
	}
	if len(ss) != servers {
		t.Fatalf("%s: servers %+v, want %d", rd, ss, servers)
	}
	for i, s := range ss {
		if s.Impl != impl || s.Agent != f.srv[i] || s.Starts < 1 || s.CPUSeconds <= 0 || s.Error != "" {
			t.Errorf("%s: server %+v: want %s on %s with its CPU, no error", rd, s, impl, f.srv[i])
		}
	}
	report, _ := os.ReadFile(filepath.Join(rd, "report.md"))
	for _, sec := range []string{"## Agents", "## Servers (hosted by agents)"} {
		if !strings.Contains(string(report), sec) {
			t.Errorf("%s: report.md has no %q section", rd, sec)
		}
	}
	res, err := results.Read(rd)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ensemble.Implementation != impl || res.Ensemble.Config["hosted_by"] != "agents" || res.Ensemble.Size != servers {
		t.Errorf("%s: ensemble %+v", rd, res.Ensemble)
	}
}

// reliability --agents plays the paper schedule through the server agents
// and writes what a one-machine reliability run writes (the graph, the
// events) plus the agents' and servers' breakdowns.
func TestReliabilityAgents(t *testing.T) {
	f := newAgentFixture(t, "reliability", 3)
	out := filepath.Join(f.dir, "runs")
	stdout := f.run(t, "reliability", 90*time.Second, "reliability", "--servers", "3", "--warmup", "300ms", "--duration", "6s", "--out", out)
	rd := runDir(t, out)
	for _, g := range []string{reliabilityPlot + ".png", reliabilityPlot + ".svg"} {
		if _, err := os.Stat(filepath.Join(rd, g)); err != nil {
			t.Error(err)
		}
	}
	checkAgentFiles(t, f, rd, "go", 3)
	res, err := results.Read(rd)
	if err != nil {
		t.Fatal(err)
	}
	kills, restarts := 0, 0
	for _, e := range res.Events {
		switch e.Name {
		case "kill":
			kills++
		case "restart":
			restarts++
		}
	}
	if kills != 6 || restarts != 6 || res.Ensemble.Config["faults"] != "paper" {
		t.Fatalf("%d kills, %d restarts, faults %q: want the paper's six of each\n%s", kills, restarts, res.Ensemble.Config["faults"], stdout)
	}
	if !strings.Contains(stdout, "kill") || !strings.Contains(stdout, reliabilityPlot+".png") {
		t.Errorf("output lacks the events or the graph:\n%s", stdout)
	}
	t.Logf("%s", lastLine(stdout))
}

// sweep --agents places each size's ensemble on that many server agents
// and writes the sweep's graph and table, each point a run directory with
// the agents' and servers' breakdowns.
func TestSweepAgents(t *testing.T) {
	f := newAgentFixture(t, "sweep", 3)
	out := filepath.Join(f.dir, "runs")
	f.run(t, "sweep", 90*time.Second, "sweep", "--sizes", "1,3", "--reads", "50,100", "--warmup", "200ms", "--duration", "1s", "--out", out)
	sd := runDir(t, out)
	for _, g := range []string{"readratio.png", "sweep.md"} {
		if _, err := os.Stat(filepath.Join(sd, g)); err != nil {
			t.Error(err)
		}
	}
	points, _ := filepath.Glob(filepath.Join(sd, "*", results.JSONFile))
	if len(points) != 4 {
		t.Fatalf("%d points, want 4: %v", len(points), points)
	}
	sizes := map[int]int{}
	for _, p := range points {
		rd := filepath.Dir(p)
		res, err := results.Read(rd)
		if err != nil {
			t.Fatal(err)
		}
		sizes[res.Ensemble.Size]++
		checkAgentFiles(t, &agentFixture{srv: f.srv[:res.Ensemble.Size], cli: f.cli}, rd, "go", res.Ensemble.Size)
	}
	if sizes[1] != 2 || sizes[3] != 2 {
		t.Fatalf("points by size %v", sizes)
	}
	for _, tc := range []struct {
		servers string
		want    string
	}{
		{"3", "--server-agents gives 3 agents but --sizes goes up to 5"},
		{strings.Join(f.srv, ","), "--server-agents gives 3 agents but --sizes goes up to 5"},
		{"0", "--server-agents 0: want at least 1"},
	} {
		_, _, err := zkbench(t, "sweep", "--sizes", "3,5", "--agents", f.coord, "--server-agents", tc.servers, "--out", filepath.Join(f.dir, "refused"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("sweep --sizes 3,5 --server-agents %s: %v, want %q", tc.servers, err, tc.want)
		}
	}
}

// compare --agents runs Go and then Java on the same server agents and
// compares them; the repeated comparison is refused with agents.
func TestCompareAgents(t *testing.T) {
	f := newAgentFixture(t, "compare", 3)
	out := filepath.Join(f.dir, "runs")
	stdout := f.run(t, "compare", 120*time.Second, "compare", "--impl", "go,java", "--servers", "3", "--java-heap", "128m",
		"--warmup", "300ms", "--duration", "1500ms", "--out", out)
	cd := runDir(t, out)
	if _, err := os.Stat(filepath.Join(cd, "compare.md")); err != nil {
		t.Fatal(err)
	}
	var impls []string
	runs, _ := filepath.Glob(filepath.Join(cd, "*", results.JSONFile))
	for _, p := range runs {
		res, err := results.Read(filepath.Dir(p))
		if err != nil {
			t.Fatal(err)
		}
		impls = append(impls, res.Ensemble.Implementation)
		checkAgentFiles(t, f, filepath.Dir(p), res.Ensemble.Implementation, 3)
	}
	slices.Sort(impls)
	if !slices.Equal(impls, []string{"go", "java"}) {
		t.Fatalf("runs of %v, want go and java\n%s", impls, stdout)
	}
	for _, args := range [][]string{
		{"compare", "--bound", "--agents", f.coord, "--server-agents", "3"},
		{"compare", "--sizes", "1", "--agents", f.coord},
	} {
		if _, _, err := zkbench(t, args...); err == nil || !strings.Contains(err.Error(), "repeated comparison") || !strings.Contains(err.Error(), "--agents") {
			t.Errorf("%v: %v, want a refusal of the repeated comparison with --agents", args, err)
		}
	}
}
