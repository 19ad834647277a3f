package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/results"
)

func TestWarmupFlag(t *testing.T) {
	for _, tc := range []struct {
		in          string
		warmup, max time.Duration
	}{
		{"auto", 0, defaultWarmupMax},
		{"2s", 2 * time.Second, 0},
		{"0s", 0, 0},
	} {
		o := loadOptions{clients: 1, outstanding: 1, valueSize: 10, keys: 10, duration: time.Second, seed: 1, warmupMax: defaultWarmupMax}
		if err := o.warmup.Set(tc.in); err != nil {
			t.Fatalf("--warmup %s: %v", tc.in, err)
		}
		s, err := o.spec("run", func(string) bool { return true })
		if err != nil {
			t.Fatalf("--warmup %s: %v", tc.in, err)
		}
		if s.Warmup != tc.warmup || s.WarmupMax != tc.max || o.warmup.String() != tc.in {
			t.Errorf("--warmup %s: spec warm-up %v max %v (flag reads %q), want %v max %v", tc.in, s.Warmup, s.WarmupMax, o.warmup.String(), tc.warmup, tc.max)
		}
	}
	var w warmupFlag
	for _, bad := range []string{"soon", "-1s", "AUTO2"} {
		if err := w.Set(bad); err == nil {
			t.Errorf("--warmup %s accepted", bad)
		}
	}
}

func TestWarmupAutoRefusals(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--warmup", "soon"}, "want auto or a duration"},
		{[]string{"run", "--warmup", "auto", "--warmup-max", "0s"}, "--warmup-max 0s: want a positive bound"},
	} {
		_, _, err := zkbench(t, append(tc.args, "--out", dir)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("zkbench %s: err = %v, want one containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// TestRunAutoWarmup runs one Go server with --warmup auto: result.json says
// how long the warm-up took (at least the rule's 3 s window, within the
// maximum) and whether it settled; an unsettled one is a warning.
func TestRunAutoWarmup(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := zkbench(t, "run", "--servers", "1", "--duration", "1s", "--warmup", "auto", "--warmup-max", "8s",
		"--clients", "4", "--outstanding", "4", "--writes", "50%", "--out", dir)
	if err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	_, r := readRun(t, dir, "*-go-1srv-50w")
	w := r.Warmup
	if w == nil || w.Took < 3*time.Second || w.Took > 9*time.Second || w.Rule == "" {
		t.Fatalf("result's warm-up %+v, want one of 3-9 s with its rule", w)
	}
	if r.Spec.WarmupMax != 8*time.Second {
		t.Errorf("spec warmup_max %v, want 8s", r.Spec.WarmupMax)
	}
	warned := strings.Contains(strings.Join(r.Warnings, "\n"), "warm-up never steady")
	loud := strings.Contains(errOut, "WARNING: ") && strings.Contains(errOut, "warm-up never steady")
	if warned == w.Settled || loud == w.Settled {
		t.Errorf("warm-up settled=%v but warned=%v in the result, %v on stderr: %q\n%s", w.Settled, warned, loud, r.Warnings, errOut)
	}
	if !strings.Contains(errOut, "warm-up until steady, at most 8s") {
		t.Errorf("stderr does not announce the automatic warm-up:\n%s", errOut)
	}
	t.Logf("warm-up %v, settled %v, CV %.3f, drift %.3f", w.Took, w.Settled, w.CV, w.Drift)
}

// TestRunAutoWarmupWithFaults: with an automatic warm-up the fault
// schedule still counts from the measured part, however long the warm-up
// took.
func TestRunAutoWarmupWithFaults(t *testing.T) {
	dir := t.TempDir()
	sched := filepath.Join(dir, "follower.txt")
	if err := os.WriteFile(sched, []byte("at 500ms kill follower as f # 1\nat 1200ms restart f # 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := zkbench(t, "run", "--duration", "3s", "--warmup", "auto", "--warmup-max", "5s", "--clients", "4", "--outstanding", "2",
		"--faults", sched, "--out", dir)
	if err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	_, r := readRun(t, dir, "*-go-3srv-30w-follower")
	if r.Warmup == nil || r.Warmup.Took < 3*time.Second {
		t.Fatalf("warm-up %+v, want an automatic one of 3 s or more", r.Warmup)
	}
	var kill, restart *results.Event
	for i, ev := range r.Events {
		switch ev.Name {
		case "kill":
			kill = &r.Events[i]
		case "restart":
			restart = &r.Events[i]
		}
	}
	if kill == nil || restart == nil {
		t.Fatalf("events %+v: want a kill and a restart", r.Events)
	}
	// Counted from the run's start, the kill would come during the
	// warm-up, before the measured start (a negative At). Picking a
	// follower may take a while on a loaded machine, so any time inside
	// the 3 s measured part will do.
	if kill.At < 500*time.Millisecond || kill.At > 3*time.Second || restart.At <= kill.At {
		t.Errorf("kill at %v, restart at %v after the measured start: want the kill 500 ms or more into it (not into the %v warm-up)", kill.At, restart.At, r.Warmup.Took)
	}
}
