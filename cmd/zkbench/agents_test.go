package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkbench/zkbench/fleet"
	"github.com/zkbench/zkbench/internal/zkbin"
	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/results"
)

// The tests of this file run zkbench as real processes: a coordination
// server, agents, and the run that coordinates them. Each process is
// killed by its PID in cleanup.

// zkbenchBin builds zkbench once per test process.
func zkbenchBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds zkbench and runs real processes")
	}
	bin, err := zkbin.Build("github.com/zkbench/zkbench/cmd/zkbench")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// proc is a process a test started.
type proc struct {
	cmd  *exec.Cmd
	log  string // its stdout and stderr
	done chan struct{}
	err  error
}

// start runs bin args in the background, its output to a file in dir, and
// kills it by PID at cleanup.
func start(t *testing.T, dir, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *proc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// wait waits for the process to exit and returns its exit error.
func (p *proc) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(limit):
		t.Fatalf("%s did not exit within %v; output:\n%s", p.cmd.Args, limit, p.output())
		return nil
	}
}

// startServer starts `zkbench coordinator` (a standalone Go server) and
// returns its address once it accepts connections.
func startServer(t *testing.T, dir, name, bin string) string {
	t.Helper()
	port := zktest.FreePort(t)
	p := start(t, dir, name, bin, "coordinator", "--addr", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", filepath.Join(dir, name))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("coordinator did not listen on %s:\n%s", addr, p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func startAgents(t *testing.T, dir, bin, coord string, names []string, extra ...string) map[string]*proc {
	t.Helper()
	out := map[string]*proc{}
	for _, n := range names {
		out[n] = start(t, dir, "agent-"+n, bin, append([]string{"agent", "--coord", coord, "--name", n, "--session-timeout", "2s"}, extra...)...)
	}
	return out
}

// runDir returns the one run directory under out.
func readAgents(t *testing.T, dir string) []fleet.AgentSummary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, agentsFile))
	if err != nil {
		t.Fatal(err)
	}
	var as []fleet.AgentSummary
	if err := json.Unmarshal(b, &as); err != nil {
		t.Fatal(err)
	}
	return as
}

// Two agents drive a 3-server Go ensemble; the merged result is a normal
// run directory whose numbers are the agents' summed.
func TestAgentsEndToEnd(t *testing.T) {
	bin := zkbenchBin(t)
	dir := t.TempDir()
	coord := startServer(t, dir, "coord", bin) + "/e2e"
	startAgents(t, dir, bin, coord, []string{"a1", "a2"})
	out := filepath.Join(dir, "runs")
	run := start(t, dir, "run", bin, "run", "--servers", "3", "--agents", coord, "--client-agents", "2",
		"--clients", "4", "--outstanding", "2", "--keys", "100", "--warmup", "500ms", "--duration", "2s", "--out", out)
	if err := run.wait(t, 60*time.Second); err != nil {
		t.Fatalf("run: %v\n%s", err, run.output())
	}
	t.Logf("%s", run.output())
	rd := runDir(t, out)
	res, err := results.Read(rd)
	if err != nil {
		t.Fatal(err)
	}
	as := readAgents(t, rd)
	if len(as) != 2 || as[0].Sessions.First != 0 || as[0].Sessions.Count != 2 || as[1].Sessions.First != 2 || as[1].Sessions.Count != 2 {
		t.Fatalf("agents %+v", as)
	}
	var agentOps int64
	for _, a := range as {
		if a.Ops == 0 || a.Driver.CPUSeconds <= 0 {
			t.Errorf("agent %s: %d ops, %.3f CPU s", a.Name, a.Ops, a.Driver.CPUSeconds)
		}
		agentOps += a.Ops
	}
	s := results.Summarize(res)
	var hist int64
	for _, h := range res.Latency {
		hist += h.TotalCount()
	}
	var series int64
	for _, iv := range res.Series {
		series += iv.Ops
	}
	if s.Ops != agentOps || hist != s.Ops || series > s.Ops || series < s.Ops*8/10 {
		t.Fatalf("merged %d ops, agents %d, histograms %d, series %d", s.Ops, agentOps, hist, series)
	}
	if res.Stop != results.StopDeadline || res.Ensemble.Size != 3 || len(res.Series) < 19 {
		t.Fatalf("stop %s, size %d, %d intervals", res.Stop, res.Ensemble.Size, len(res.Series))
	}
	clients := 0
	for _, m := range res.Ensemble.Members {
		clients += m.Clients
	}
	if clients != 4 {
		t.Fatalf("members hold %d clients, want 4", clients)
	}
	for _, f := range []string{"throughput.png", "latency-spectrum.png", "report.md"} {
		if _, err := os.Stat(filepath.Join(rd, f)); err != nil {
			t.Error(err)
		}
	}
	report, _ := os.ReadFile(filepath.Join(rd, "report.md"))
	if !strings.Contains(string(report), "## Agents") {
		t.Error("report has no agents section")
	}
}

// traceOps reads every trace of the given agents in dir: "session seq op
// key" lines, those of open-loop operations intended before limit, per
// session in sequence order, and which agent ran each session.
func traceOps(t *testing.T, dir string, names []string, spec func(c int, k int64) time.Duration, limit time.Duration) (ops map[int][]string, bySession map[int]string) {
	t.Helper()
	ops, bySession = map[int][]string{}, map[int]string{}
	seq := map[string]int64{}
	for _, n := range names {
		fs, _ := filepath.Glob(filepath.Join(dir, "*-"+n+".trace"))
		if len(fs) != 1 {
			t.Fatalf("agent %s: traces %v", n, fs)
		}
		f, err := os.Open(fs[0])
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var c int
			var k int64
			if _, err := fmt.Sscanf(sc.Text(), "%d %d", &c, &k); err != nil {
				t.Fatalf("%s: %q: %v", fs[0], sc.Text(), err)
			}
			if other, ok := bySession[c]; ok && other != n {
				t.Fatalf("session %d run by %s and %s", c, other, n)
			}
			bySession[c] = n
			if spec(c, k) < limit {
				ops[c] = append(ops[c], sc.Text())
				seq[sc.Text()] = k
			}
		}
		f.Close()
	}
	for _, l := range ops {
		slices.SortFunc(l, func(a, b string) int { return cmp.Compare(seq[a], seq[b]) })
	}
	return ops, bySession
}

// The same seed on 1 and on 3 agents issues the same operations (from the
// agents' traces: every open-loop operation intended before the last
// 300 ms), and the sessions are shared in contiguous ranges.
func TestAgentsReproducibleAcrossAgentCounts(t *testing.T) {
	bin := zkbenchBin(t)
	dir := t.TempDir()
	coord := startServer(t, dir, "coord", bin) + "/repro"
	sut := startServer(t, dir, "sut", bin)
	traces := filepath.Join(dir, "traces")
	os.MkdirAll(traces, 0o755)
	startAgents(t, dir, bin, coord, []string{"one", "t1", "t2", "t3"}, "--trace-dir", traces)
	var specs []*results.Result
	for _, names := range []string{"one", "t1,t2,t3"} {
		out := filepath.Join(dir, "runs-"+names)
		run := start(t, dir, "run-"+names, bin, "run", "--impl", "external", "--connect", sut, "--agents", coord, "--client-agents", names,
			"--clients", "6", "--rate", "300", "--keys", "50", "--writes", "40", "--seed", "7", "--warmup", "300ms", "--duration", "1500ms", "--out", out)
		if err := run.wait(t, 60*time.Second); err != nil {
			t.Fatalf("run on %s: %v\n%s", names, err, run.output())
		}
		res, err := results.Read(runDir(t, out))
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, res)
	}
	spec := specs[0].Spec
	limit := spec.Warmup + spec.Duration - 300*time.Millisecond
	one, s1 := traceOps(t, traces, []string{"one"}, spec.IntendedStart, limit)
	three, s3 := traceOps(t, traces, []string{"t1", "t2", "t3"}, spec.IntendedStart, limit)
	// Each session issues the same operations in the same order. An agent
	// the machine starves may not have issued the last few before the run
	// ends, so sessions are compared over what both runs issued.
	same := 0
	for c, ops := range one {
		other := three[c]
		n := min(len(ops), len(other))
		if !slices.Equal(ops[:n], other[:n]) {
			t.Fatalf("session %d: 1 agent issued %q, 3 agents %q", c, ops[:n], other[:n])
		}
		same += n
	}
	if len(one) != len(three) || same < 300 {
		t.Fatalf("1 agent ran %d sessions, 3 agents %d; %d operations the same in both, want at least 300", len(one), len(three), same)
	}
	if len(s1) != 6 || len(s3) != 6 {
		t.Fatalf("sessions: %v and %v", s1, s3)
	}
	for c, want := range []string{"t1", "t1", "t2", "t2", "t3", "t3"} {
		if s3[c] != want {
			t.Fatalf("session %d run by %s, want %s (contiguous ranges)", c, s3[c], want)
		}
	}
	t.Logf("%d operations, the same from 1 and 3 agents", same)
}

// binaryProcesses lists the PIDs of running processes of bin.
func binaryProcesses(bin string) []int {
	return processesWhere(func(dir string) bool {
		exe, err := os.Readlink(filepath.Join(dir, "exe"))
		return err == nil && exe == bin
	})
}

// processesWhere lists the PIDs of the running processes whose /proc
// directory satisfies match.
func processesWhere(match func(procDir string) bool) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && match(filepath.Join("/proc", e.Name())) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// A client agent killed mid-run aborts the run: the coordinator exits 3 (could not run)
// saying why, the partial result is readable and records it, the other
// agent stops its load, and no process is left but those the test
// started.
func TestKilledAgentAbortsRun(t *testing.T) {
	bin := zkbenchBin(t)
	dir := t.TempDir()
	coord := startServer(t, dir, "coord", bin) + "/kill"
	sut := startServer(t, dir, "sut", bin)
	agents := startAgents(t, dir, bin, coord, []string{"k1", "k2"})
	out := filepath.Join(dir, "runs")
	run := start(t, dir, "run", bin, "run", "-v", "--impl", "external", "--connect", sut, "--agents", coord, "--client-agents", "2",
		"--clients", "4", "--outstanding", "1", "--keys", "50", "--warmup", "300ms", "--duration", "8s", "--out", out)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(run.output(), "msg=started"); {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not start:\n%s", run.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	killed := time.Now()
	agents["k1"].cmd.Process.Signal(syscall.SIGKILL)
	err := run.wait(t, 30*time.Second)
	took := time.Since(killed)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitCannotRun {
		t.Fatalf("run: %v, want exit %d\n%s", err, exitCannotRun, run.output())
	}
	msg := run.output()
	for _, want := range []string{"run aborted", "agent k1", "lost its coordination session", "partial result in"} {
		if !strings.Contains(msg, want) {
			t.Errorf("output lacks %q:\n%s", want, msg)
		}
	}
	rd := runDir(t, out)
	res, err := results.Read(rd)
	if err != nil {
		t.Fatalf("partial result unreadable: %v", err)
	}
	lost := slices.ContainsFunc(res.Events, func(e results.Event) bool { return e.Name == "agent-lost" && strings.Contains(e.Detail, "k1") })
	if res.Stop != results.StopCancelled || !lost || res.Measured >= 8*time.Second {
		t.Fatalf("stop %s, measured %v, events %+v", res.Stop, res.Measured, res.Events)
	}
	as := readAgents(t, rd)
	if !as[0].Lost || as[1].Lost || as[1].Ops == 0 || !strings.Contains(as[1].Error, "aborted") {
		t.Fatalf("agents %+v", as)
	}
	t.Logf("aborted %v after the kill; k2 measured %d ops before stopping; result: %v measured", took.Round(time.Millisecond), as[1].Ops, res.Measured.Round(time.Millisecond))
	// Left: the coordination server, the system under test, and the
	// surviving agent (long-running by design), nothing else.
	want := []int{agents["k2"].cmd.Process.Pid}
	got := binaryProcesses(bin)
	if len(got) != 3 || !slices.Contains(got, want[0]) {
		t.Fatalf("processes of %s: %v, want the two servers and agent k2 (%d)", bin, got, want[0])
	}
	select {
	case <-agents["k2"].done:
		t.Fatalf("agent k2 exited:\n%s", agents["k2"].output())
	default:
	}
}

// An agent of another version is refused, naming both versions; too few
// agents fail after the wait, naming who registered and who is missing; a
// clock skew over a tenth of the interval refuses the start; a second
// agent of the same name is refused.
func TestAgentsBadInput(t *testing.T) {
	bin := zkbenchBin(t)
	dir := t.TempDir()
	server := startServer(t, dir, "coord", bin)
	start(t, dir, "agent-old", bin, "agent", "--coord", server+"/versions", "--name", "old", "--announce-version", "v0.9.0-old")
	startAgents(t, dir, bin, server+"/few", []string{"m1"})
	start(t, dir, "agent-skewed", bin, "agent", "--coord", server+"/skew", "--name", "late", "--skew-clock", "-25ms")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"version", []string{"--agents", server + "/versions", "--client-agents", "1"},
			[]string{"agent old", "runs zkbench v0.9.0-old", "this coordinator is zkbench "}},
		{"count", []string{"--agents", server + "/few", "--client-agents", "3", "--agents-wait", "2s"},
			[]string{"waited 2s for 3 client agents", "1 registered (m1), 2 missing"}},
		{"names", []string{"--agents", server + "/few", "--client-agents", "m1,m7", "--agents-wait", "1s"},
			[]string{"missing m7", "registered: m1"}},
		{"skew", []string{"--agents", server + "/skew", "--client-agents", "1"},
			[]string{"agent late's clock is -2", "more than a tenth of the 100ms interval (10ms)"}},
	} {
		run := start(t, dir, "run-"+tc.name, bin, append([]string{"run", "--impl", "external", "--connect", server,
			"--clients", "2", "--duration", "1s", "--warmup", "0s", "--out", filepath.Join(dir, "runs")}, tc.args...)...)
		err := run.wait(t, 30*time.Second)
		msg := run.output()
		if err == nil {
			t.Errorf("%s: accepted:\n%s", tc.name, msg)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, msg)
			}
		}
		t.Logf("%s: %s", tc.name, lastLine(msg))
	}
	dup := start(t, dir, "agent-dup", bin, "agent", "--coord", server+"/few", "--name", "m1")
	if err := dup.wait(t, 15*time.Second); err == nil || !strings.Contains(dup.output(), `an agent named "m1" is already registered`) {
		t.Errorf("a second agent m1: %v\n%s", err, dup.output())
	}
	if _, _, err := zkbench(t, "run", "--client-agents", "2"); err == nil || !strings.Contains(err.Error(), "--client-agents needs --agents") {
		t.Errorf("--client-agents without --agents: %v", err)
	}
}

// Nothing runs unsupervised: when the coordination server dies mid-run,
// every agent stops its load and exits once its session has been gone a
// session timeout, and the run fails; only the system under test is left.
func TestCoordinationLossStopsAgents(t *testing.T) {
	bin := zkbenchBin(t)
	dir := t.TempDir()
	port := zktest.FreePort(t)
	coordProc := start(t, dir, "coord", bin, "coordinator", "--addr", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", filepath.Join(dir, "coord"))
	coord := fmt.Sprintf("127.0.0.1:%d/loss", port)
	sut := startServer(t, dir, "sut", bin)
	agents := startAgents(t, dir, bin, coord, []string{"s1", "s2"})
	run := start(t, dir, "run", bin, "run", "-v", "--impl", "external", "--connect", sut, "--agents", coord, "--client-agents", "2",
		"--clients", "2", "--outstanding", "1", "--keys", "50", "--warmup", "300ms", "--duration", "10s", "--out", filepath.Join(dir, "runs"))
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(run.output(), "msg=started"); {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not start:\n%s\n%s", run.output(), coordProc.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	killed := time.Now()
	coordProc.cmd.Process.Signal(syscall.SIGKILL)
	for _, n := range []string{"s1", "s2"} {
		err := agents[n].wait(t, 15*time.Second)
		if err == nil || !strings.Contains(agents[n].output(), "coordination session lost") {
			t.Errorf("agent %s: %v\n%s", n, err, agents[n].output())
		}
		t.Logf("agent %s exited %v after the coordination server died", n, time.Since(killed).Round(time.Millisecond))
	}
	if err := run.wait(t, 30*time.Second); err == nil {
		t.Errorf("the run succeeded without its coordination server:\n%s", run.output())
	}
	t.Logf("run exited %v after: %s", time.Since(killed).Round(time.Millisecond), lastLine(run.output()))
	if got := binaryProcesses(bin); len(got) != 1 {
		t.Fatalf("processes of %s: %v, want only the system under test", bin, got)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}
