package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/netns"
	"github.com/zkbench/zkbench/internal/testenv"
	"github.com/zkbench/zkbench/internal/zkbin"
	"github.com/zkbench/zkbench/results"
)

// The tests of this file put every zkbench process on a host of its own:
// a network namespace of a lab (internal/netns) with its own address in
// 198.18.0.0/15, on a bridge the test creates and removes. Nothing they
// send leaves the lab.

// newTestLab creates a lab of these hosts, removed (its processes
// killed) at cleanup, after the labs of killed test processes.
func newTestLab(t *testing.T, hosts ...string) *netns.Lab {
	t.Helper()
	if err := netns.Check(); err != nil {
		testenv.Missing(t, "%v", err)
	}
	ctx := context.Background()
	if err := netns.RemoveStale(ctx, "zkbt"); err != nil {
		t.Fatal(err)
	}
	l, err := netns.Create(ctx, netns.Options{Name: netns.OwnedName("zkbt"), Hosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := netns.Remove(ctx, l.Name); err != nil {
			t.Error(err)
		}
	})
	return l
}

// labHost returns the host of that name.
func labHost(t *testing.T, l *netns.Lab, name string) netns.Host {
	t.Helper()
	h, ok := l.Host(name)
	if !ok {
		t.Fatalf("no host %s in lab %s", name, l.Name)
	}
	return h
}

// startOn runs bin args on host h in the background (see start).
func startOn(t *testing.T, h netns.Host, dir, name, bin string, args ...string) *proc {
	t.Helper()
	c := h.Command(context.Background(), bin, args...)
	return start(t, dir, name, c.Path, c.Args[1:]...)
}

// addr is the host's address as a string.
func addr(h netns.Host) string { return h.Addr.Addr().String() }

// coordPort is the coordination server's port: each host has ports of its
// own, so a fixed one cannot clash.
const coordPort = 2191

// startLabCoordinator runs `zkbench coordinator` on h and returns its
// address once it accepts connections there.
func startLabCoordinator(t *testing.T, h netns.Host, dir, bin string) string {
	t.Helper()
	p := startOn(t, h, dir, "coord", bin, "coordinator", "--addr", addr(h), "--port", fmt.Sprint(coordPort), "--dir", filepath.Join(dir, "coord"))
	a := net.JoinHostPort(addr(h), fmt.Sprint(coordPort))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := h.Do(func() error {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("coordinator did not listen on %s: %v\n%s", a, err, p.output())
		}
	}
}

// labAgents starts `zkbench agent` on each named host: server agents
// serve on their host's address, client agents only drive load.
func labAgents(t *testing.T, l *netns.Lab, dir, bin, coord string, servers, clients []string) map[string]*proc {
	t.Helper()
	out := map[string]*proc{}
	for _, n := range servers {
		h := labHost(t, l, n)
		out[n] = startOn(t, h, dir, "agent-"+n, bin, "agent", "--coord", coord, "--name", n, "--session-timeout", "2s", "--addr", addr(h))
	}
	for _, n := range clients {
		out[n] = startOn(t, labHost(t, l, n), dir, "agent-"+n, bin, "agent", "--coord", coord, "--name", n, "--session-timeout", "2s", "--no-server")
	}
	return out
}

// labProcesses lists the processes on each host of the lab whose command
// line contains one of words (every process when words is empty).
func labProcesses(t *testing.T, l *netns.Lab, words ...string) map[string][]int {
	t.Helper()
	out := map[string][]int{}
	for _, h := range l.Hosts {
		pids, err := netns.Processes(h.Namespace)
		if err != nil {
			t.Fatal(err)
		}
		for _, pid := range pids {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if len(words) == 0 || slices.ContainsFunc(words, func(w string) bool { return strings.Contains(string(b), w) }) {
				out[h.Name] = append(out[h.Name], pid)
			}
		}
	}
	return out
}

// waitStarted waits until the run's verbose output says the load started.
func waitStarted(t *testing.T, run *proc, limit time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(limit); !strings.Contains(run.output(), "msg=started"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not start:\n%s", run.output())
		}
	}
}

// faultStarts are the events that start a fault (those within 500 ms of
// each other are one fault: the paper's fourth kills two followers).
var faultStarts = map[string]bool{"kill": true, "freeze": true, "partition": true, "partition-in": true, "partition-out": true}

// recoveredAfterEachFault checks that throughput came back after every
// fault of the open-loop schedule: between a fault and the next (or the
// end) there are 300 ms in a row in which the run completed at least half
// the offered rate. (A window just before the next fault would also catch
// a later stall of a loaded machine, which is not the fault's.)
func recoveredAfterEachFault(t *testing.T, res *results.Result) {
	t.Helper()
	var faults []time.Duration
	for _, e := range res.Events {
		if faultStarts[e.Name] && (len(faults) == 0 || e.At-faults[len(faults)-1] > 500*time.Millisecond) {
			faults = append(faults, e.At)
		}
	}
	if len(faults) == 0 {
		t.Fatalf("no faults among the events: %+v", res.Events)
	}
	rate := res.Spec.Rate
	if rate <= 0 {
		t.Fatalf("want an open-loop run, have rate %v", rate)
	}
	ends := append(faults[1:], res.Measured)
	for i, end := range ends {
		var back time.Duration = -1
		var ops []int64
		for _, iv := range res.Series {
			if iv.Start < faults[i] || iv.Start+iv.Len > end {
				continue
			}
			ops = append(ops, iv.Ops)
			if n := len(ops); n >= 3 && float64(ops[n-1]+ops[n-2]+ops[n-3])/(3*res.Interval.Seconds()) >= rate/2 {
				back = iv.Start + iv.Len - faults[i]
				break
			}
		}
		t.Logf("fault %d at %v: %.0f ops/s offered, half of it for 300 ms %v after the fault", i+1, faults[i].Round(time.Millisecond), rate, back)
		if back < 0 {
			t.Errorf("fault %d at %v: throughput did not recover to %.0f ops/s for 300 ms before %v: %v (per %v)", i+1, faults[i], rate/2, end, ops, res.Interval)
		}
	}
}

// The multi-host test on one machine: a coordinator, five server
// agents and two client agents, each on a host of its own; zkbench
// reliability plays the paper's schedule on a 5-server Go ensemble hosted
// by the server agents. The result has the graph, the kills and restarts, throughput back after
// each fault, and both client agents with their hosts' addresses. Then
// three of the hosts run a Java ensemble through kills and an nftables
// partition of its leader, throughput again back after each. Then a
// client agent killed mid-run aborts the next run, which says why, and
// leaves no server process on any host.
func TestAgentsOnNamespaceHosts(t *testing.T) {
	bin := zkbenchBin(t)
	servers := []string{"s1", "s2", "s3", "s4", "s5"}
	clients := []string{"c1", "c2"}
	l := newTestLab(t, append([]string{"coord"}, append(servers, clients...)...)...)
	dir := t.TempDir()
	coordHost := labHost(t, l, "coord")
	coord := startLabCoordinator(t, coordHost, dir, bin) + "/lab"
	agents := labAgents(t, l, dir, bin, coord, servers, clients)

	out := filepath.Join(dir, "runs")
	args := []string{"reliability", "-v", "--servers", "5", "--faults", "paper", "--agents", coord, "--server-agents", strings.Join(servers, ","), "--client-agents", strings.Join(clients, ","),
		"--tick-time", "200", "--clients", "8", "--outstanding", "2", "--rate", "1500", "--keys", "100", "--value-size", "16",
		"--warmup", "500ms", "--duration", "8s", "--out", out}
	run := startOn(t, coordHost, dir, "run", bin, args...)
	if err := run.wait(t, 90*time.Second); err != nil {
		t.Fatalf("run: %v\n%s", err, run.output())
	}
	rd := runDir(t, out)
	res, err := results.Read(rd)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{reliabilityPlot + ".png", reliabilityPlot + ".svg", "report.md", agentsFile, serversFile} {
		if _, err := os.Stat(filepath.Join(rd, f)); err != nil {
			t.Error(err)
		}
	}
	var kills, restarts int
	for _, e := range res.Events {
		switch e.Name {
		case "kill":
			kills++
		case "restart":
			restarts++
		}
		t.Logf("event %7v %-9s %s", e.At.Round(time.Millisecond), e.Name, e.Detail)
	}
	if kills != 6 || restarts != 6 {
		t.Errorf("%d kills and %d restarts, want the paper's 6 and 6", kills, restarts)
	}
	recoveredAfterEachFault(t, res)
	if cfg := res.Ensemble.Config; res.Ensemble.Size != 5 || cfg["hosted_by"] != "agents" {
		t.Errorf("ensemble %+v", res.Ensemble)
	}
	as := readAgents(t, rd)
	if len(as) != 2 {
		t.Fatalf("agents.json: %+v, want c1 and c2", as)
	}
	for i, a := range as {
		want := addr(labHost(t, l, clients[i]))
		if a.Name != clients[i] || a.Hostname != clients[i] || len(a.Addresses) == 0 || a.Addresses[0] != want || a.Ops == 0 || a.Driver.CPUSeconds <= 0 {
			t.Errorf("agent %d: %s on %s at %v, %d ops, %.2f CPU s; want %s on its host at %s with ops and CPU", i, a.Name, a.Hostname, a.Addresses, a.Ops, a.Driver.CPUSeconds, clients[i], want)
		}
	}
	s := results.Summarize(res)
	t.Logf("%d ops, %d errors; agents %s %v, %s %v", s.Ops, s.Errors, as[0].Name, as[0].Addresses, as[1].Name, as[1].Addresses)

	// The same hosts run a 3-server Java ensemble: a follower and then
	// the leader are killed and restarted, then the leader is cut off by
	// nftables rules on its host and healed. Each fault waits 7 s after
	// the last restart: a restarted JVM took 6.8 s to serve with the
	// machine's load average at 10, and a fault while the other two are
	// not both up leaves no quorum until it is repaired, after which
	// Java's election, its notification timeouts doubled meanwhile, can
	// take seconds more.
	if _, err := zkbin.FindJava(zkbin.LogLog4j); err != nil {
		testenv.Missing(t, "%v", err)
	}
	sched := filepath.Join(dir, "java.sched")
	os.WriteFile(sched, []byte("at 1s kill follower as f\nat 1500ms restart f\nat 8500ms kill leader as l\nat 9s restart l\nat 16s partition leader as p\nat 16800ms heal p\n"), 0o644)
	out = filepath.Join(dir, "runs-java")
	args = []string{"reliability", "-v", "--servers", "3", "--impl", "java", "--java-heap", "128m", "--faults", sched, "--agents", coord, "--server-agents", strings.Join(servers[:3], ","), "--client-agents", strings.Join(clients, ","),
		"--tick-time", "200", "--clients", "8", "--outstanding", "2", "--rate", "1000", "--keys", "100", "--value-size", "16",
		"--warmup", "500ms", "--duration", "21s", "--out", out}
	run = startOn(t, coordHost, dir, "run-java", bin, args...)
	if err := run.wait(t, 120*time.Second); err != nil {
		t.Fatalf("java run: %v\n%s", err, run.output())
	}
	res, err = results.Read(runDir(t, out))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range res.Events {
		names = append(names, e.Name)
		t.Logf("java event %7v %-9s %s", e.At.Round(time.Millisecond), e.Name, e.Detail)
	}
	for _, want := range []string{"kill", "restart", "partition", "heal", "elected"} {
		if !slices.Contains(names, want) {
			t.Errorf("java run: no %s event in %v", want, names)
		}
	}
	// The partition took effect: the cut-off leader lost its followers,
	// and an election followed it.
	cut := slices.IndexFunc(res.Events, func(e results.Event) bool { return e.Name == "partition" })
	if cut < 0 || !slices.ContainsFunc(res.Events[cut:], func(e results.Event) bool { return e.Name == "elected" }) {
		t.Errorf("java run: no election after the partition: %v", names)
	}
	if res.Ensemble.Implementation != "java" || res.Ensemble.Size != 3 {
		t.Errorf("java run: ensemble %+v", res.Ensemble)
	}
	recoveredAfterEachFault(t, res)

	// A client agent killed mid-run aborts the run.
	out = filepath.Join(dir, "runs-killed")
	args = []string{"run", "-v", "--agents", coord, "--server-agents", strings.Join(servers[:3], ","), "--client-agents", strings.Join(clients, ","),
		"--tick-time", "200", "--clients", "4", "--outstanding", "1", "--keys", "50", "--value-size", "16",
		"--warmup", "300ms", "--duration", "20s", "--out", out}
	run = startOn(t, coordHost, dir, "run-killed", bin, args...)
	waitStarted(t, run, 60*time.Second)
	time.Sleep(time.Second)
	if got := labProcesses(t, l, internalServer); len(got) != 3 {
		t.Fatalf("servers on the hosts: %v, want one on each of s1, s2, s3", got)
	}
	agents["c1"].cmd.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	err = run.wait(t, 40*time.Second)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitCannotRun {
		t.Fatalf("run: %v, want exit %d\n%s", err, exitCannotRun, run.output())
	}
	for _, want := range []string{"run aborted", "agent c1", "lost its coordination session", "partial result in"} {
		if !strings.Contains(run.output(), want) {
			t.Errorf("output lacks %q:\n%s", want, run.output())
		}
	}
	res, err = results.Read(runDir(t, out))
	if err != nil {
		t.Fatalf("partial result unreadable: %v", err)
	}
	lost := slices.ContainsFunc(res.Events, func(e results.Event) bool { return e.Name == "agent-lost" && strings.Contains(e.Detail, "c1") })
	if res.Stop != results.StopCancelled || !lost {
		t.Errorf("stop %s, events %+v: want cancelled, c1 lost", res.Stop, res.Events)
	}
	// No server on any host once the agents have stopped them; what is
	// left on the hosts is the coordinator and the agents that live on.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left := labProcesses(t, l, internalServer)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("servers left on the hosts after the abort: %v", left)
		}
	}
	all := labProcesses(t, l)
	want := map[string]int{"coord": 1, "s1": 1, "s2": 1, "s3": 1, "s4": 1, "s5": 1, "c2": 1}
	for h, pids := range all {
		if len(pids) != want[h] {
			t.Errorf("host %s runs %v, want %d process(es)", h, pids, want[h])
		}
	}
	if len(all) != len(want) {
		t.Errorf("processes on the hosts: %v, want the coordinator and the agents but c1", all)
	}
	t.Logf("aborted %v after the kill: %s", time.Since(killed).Round(time.Millisecond), lastLine(run.output()))

	// Taking the lab down leaves nothing of this test's binary running.
	if err := netns.Remove(context.Background(), l.Name); err != nil {
		t.Fatal(err)
	}
	if got := binaryProcesses(bin); len(got) != 0 {
		t.Fatalf("processes of %s after the lab went: %v", bin, got)
	}
}

// zkbench lab: up, ls, exec (exit code passed on), down; a second up
// under the same name is refused, and exec on a lab that is down says so.
func TestLabCommand(t *testing.T) {
	if err := netns.Check(); err != nil {
		testenv.Missing(t, "%v", err)
	}
	name := netns.OwnedName("zkbt")
	t.Cleanup(func() { netns.Remove(context.Background(), name) })
	stdout, _, err := zkbench(t, "lab", "up", "--name", name, "--hosts", "coord,a1", "--cpu", "a1=0.5")
	if err != nil || !strings.Contains(stdout, "coord        198.18.0.1         all CPUs") || !strings.Contains(stdout, "a1           198.18.0.2         0.5 cores") {
		t.Fatalf("lab up: %v\n%s", err, stdout)
	}
	if _, _, err := zkbench(t, "lab", "up", "--name", name, "--hosts", "2"); exitCode(err) != exitUsage || !strings.Contains(err.Error(), "is up already") {
		t.Errorf("second lab up: %v", err)
	}
	if stdout, _, err = zkbench(t, "lab", "ls", "--name", name); err != nil || !strings.Contains(stdout, name+".a1") {
		t.Errorf("lab ls: %v\n%s", err, stdout)
	}
	stdout, _, err = zkbench(t, "lab", "exec", "--name", name, "a1", "--", "sh", "-c", "ip -4 -o addr show; cat /proc/self/cgroup")
	if err != nil || !strings.Contains(stdout, "eth0    inet 198.18.0.2/24") || strings.Count(stdout, "inet ") != 2 || !strings.Contains(stdout, ":/"+name+".a1\n") {
		t.Errorf("lab exec a1 ip addr: %v\n%s", err, stdout)
	}
	if _, _, err := zkbench(t, "lab", "exec", "--name", name, "a1", "--", "sh", "-c", "exit 7"); exitCode(err) != 7 {
		t.Errorf("lab exec exit 7: %v (code %d)", err, exitCode(err))
	}
	if _, _, err := zkbench(t, "lab", "exec", "--name", name, "b9", "--", "true"); exitCode(err) != exitUsage || !strings.Contains(err.Error(), "hosts: coord, a1") {
		t.Errorf("lab exec on a missing host: %v", err)
	}
	if _, _, err := zkbench(t, "lab", "up", "--name", name+"x", "--hosts", "a", "--subnet", "10.1.0.0/24"); exitCode(err) != exitUsage || !strings.Contains(err.Error(), "198.18.0.0/15") {
		t.Errorf("lab up outside the range: %v", err)
	}
	for _, bad := range []string{"b=0.5", "a=many"} {
		if _, _, err := zkbench(t, "lab", "up", "--name", name+"x", "--hosts", "a", "--cpu", bad); exitCode(err) != exitUsage || !strings.Contains(err.Error(), bad) {
			t.Errorf("lab up --cpu %s: %v", bad, err)
		}
	}
	if stdout, _, err = zkbench(t, "lab", "down", "--name", name); err != nil || !strings.Contains(stdout, "down") {
		t.Errorf("lab down: %v", err)
	}
	if _, _, err := zkbench(t, "lab", "exec", "--name", name, "a1", "--", "true"); exitCode(err) != exitUsage || !strings.Contains(err.Error(), "is not up") {
		t.Errorf("lab exec after down: %v", err)
	}
}
