package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkbench/zkbench/results"
)

// `run --agents --warmup auto` passes the automatic warm-up through: the
// coordinator decides it on the two agents' summed throughput, result.json
// records it (at least the rule's 3 s window, within the maximum, the
// measured part on the series' grid), and one that never steadied is a
// warning in the result and on stderr.
func TestAgentsAutoWarmup(t *testing.T) {
	bin := zkbenchBin(t)
	dir := t.TempDir()
	coord := startServer(t, dir, "coord", bin) + "/auto"
	startAgents(t, dir, bin, coord, []string{"a1", "a2"})
	out := filepath.Join(dir, "runs")
	run := start(t, dir, "run", bin, "run", "--servers", "1", "--agents", coord, "--client-agents", "2",
		"--clients", "4", "--outstanding", "2", "--keys", "50", "--warmup", "auto", "--warmup-max", "6s", "--duration", "1s", "--out", out)
	if err := run.wait(t, 60*time.Second); err != nil {
		t.Fatalf("run: %v\n%s", err, run.output())
	}
	res, err := results.Read(runDir(t, out))
	if err != nil {
		t.Fatal(err)
	}
	w := res.Warmup
	if w == nil || w.Took < 3*time.Second || w.Took > 8*time.Second || w.Took%res.Interval != 0 || w.Rule == "" {
		t.Fatalf("result's warm-up %+v, want one of 3-8 s on the %v grid with its rule\n%s", w, res.Interval, run.output())
	}
	if res.Spec.WarmupMax != 6*time.Second || res.Measured != time.Second {
		t.Errorf("spec warmup_max %v, measured %v", res.Spec.WarmupMax, res.Measured)
	}
	warned := strings.Contains(strings.Join(res.Warnings, "\n"), "warm-up never steady")
	loud := strings.Contains(run.output(), "WARNING: ") && strings.Contains(run.output(), "warm-up never steady")
	if warned == w.Settled || loud == w.Settled {
		t.Errorf("warm-up settled=%v but warned=%v in the result, %v on stderr: %q\n%s", w.Settled, warned, loud, res.Warnings, run.output())
	}
	if !strings.Contains(run.output(), "from agents, 1s (+warm-up until steady, at most 6s)") {
		t.Errorf("the run does not announce the automatic warm-up:\n%s", run.output())
	}
	t.Logf("warm-up %v, settled %v, CV %.3f, drift %.3f", w.Took, w.Settled, w.CV, w.Drift)
}

// An agent killed during an automatic warm-up aborts the run at once, as
// one killed later does; nothing was measured, so there is no result.
func TestKilledAgentDuringAutoWarmupAbortsRun(t *testing.T) {
	bin := zkbenchBin(t)
	dir := t.TempDir()
	coord := startServer(t, dir, "coord", bin) + "/killwarm"
	sut := startServer(t, dir, "sut", bin)
	agents := startAgents(t, dir, bin, coord, []string{"k1", "k2"})
	run := start(t, dir, "run", bin, "run", "-v", "--impl", "external", "--connect", sut, "--agents", coord, "--client-agents", "2",
		"--clients", "4", "--outstanding", "1", "--keys", "50", "--warmup", "auto", "--warmup-max", "30s", "--duration", "2s", "--out", filepath.Join(dir, "runs"))
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(run.output(), "msg=started"); {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not start:\n%s", run.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	killed := time.Now()
	agents["k1"].cmd.Process.Signal(syscall.SIGKILL)
	err := run.wait(t, 30*time.Second)
	if took := time.Since(killed); err == nil || took > 15*time.Second {
		t.Fatalf("run: %v %v after the kill, want a failure well before the 30 s maximum\n%s", err, took, run.output())
	}
	for _, want := range []string{"agent k1", "lost its coordination session"} {
		if !strings.Contains(run.output(), want) {
			t.Errorf("output lacks %q:\n%s", want, run.output())
		}
	}
}
