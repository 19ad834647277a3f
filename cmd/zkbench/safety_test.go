package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/experiment"
	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/results"
)

// --faults random draws from the mix, never more than a minority down at
// once, and the same seed draws the same schedule.
func TestRandomFaultsFlags(t *testing.T) {
	rf := randomFaults{seed: 5, rate: 60, mix: "kill, partition-in"}
	a, err := rf.schedule(20*time.Second, 5)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := rf.schedule(20*time.Second, 5)
	if a.String() != b.String() || len(a.Steps) < 4 {
		t.Fatalf("schedules of one seed differ or are short:\n%s\n%s", a, b)
	}
	kinds := map[harness.Action]bool{}
	for _, st := range a.Steps {
		kinds[st.Action] = true
		if st.At >= 18*time.Second {
			t.Errorf("step %v %v in the last tenth of the run", st.At, st.Action)
		}
	}
	for _, k := range []harness.Action{harness.Kill, harness.Restart, harness.PartitionIn, harness.Heal} {
		if !kinds[k] {
			t.Errorf("no %s in %v", k, a)
		}
	}
	if err := a.Validate(5); err != nil {
		t.Error(err)
	}
	if _, err := (randomFaults{seed: 1, mix: "kill,explode"}).schedule(time.Minute, 3); exitCode(err) != exitUsage || !strings.Contains(err.Error(), "explode") {
		t.Errorf("an unknown fault in the mix: %v (exit %d)", err, exitCode(err))
	}
}

// A short run under random faults on a 3-server Go ensemble records its
// history and passes every check; the verdict is in result.json and
// report.md.
func TestRunRandomFaultsPassesCheck(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := zkbench(t, "run", "--duration", "8s", "--warmup", "300ms", "--clients", "4", "--outstanding", "4",
		"--faults", "random", "--fault-seed", "3", "--fault-rate", "40", "--fault-mix", "kill,freeze", "--out", dir)
	if err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	rs, dirs, err := experiment.ReadAll([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	faults := 0
	for _, ev := range r.Events {
		if ev.Name == "kill" || ev.Name == "freeze" {
			faults++
		}
	}
	if faults == 0 {
		t.Fatalf("no fault played: %+v", r.Events)
	}
	if r.Safety == nil || r.Safety.Verdict != results.SafetyPass || r.Safety.Ops < 50 || len(r.Safety.Keys) != 8 {
		t.Fatalf("safety %+v: want PASS over 8 keys", r.Safety)
	}
	if !strings.Contains(out, "safety: PASS") {
		t.Errorf("stdout does not give the verdict:\n%s", out)
	}
	md, err := os.ReadFile(filepath.Join(dirs[0], "report.md"))
	if err != nil || !strings.Contains(string(md), "## Safety") {
		t.Errorf("report.md has no Safety section (%v)", err)
	}
}

// A checked run whose key another client changes behind the driver's back
// (values no client of the run wrote, versions it did not make) is a
// violation: zkbench saves the run, says so and exits 4.
func TestRunCheckViolationExits4(t *testing.T) {
	srv := zktest.StartGo(t)
	ctx, cancel := context.WithCancel(context.Background())
	intruder := make(chan error, 1)
	go func() { intruder <- intrude(ctx, srv.Addr, "/zkbench/k0000000") }()
	dir := t.TempDir()
	out, errOut, err := zkbench(t, "run", "--impl", "external", "--connect", srv.Addr, "--check", "--check-keys", "2",
		"--duration", "2s", "--warmup", "300ms", "--clients", "4", "--outstanding", "2", "--keys", "10", "--out", dir)
	cancel()
	if ierr := <-intruder; ierr != nil {
		t.Fatalf("intruder: %v", ierr)
	}
	if exitCode(err) != exitUnsafe {
		t.Fatalf("exit %d (%v), want %d\nstdout:\n%s\nstderr:\n%s", exitCode(err), err, exitUnsafe, out, errOut)
	}
	if !strings.Contains(out, "safety: FAIL") || !strings.Contains(err.Error(), "report.md") {
		t.Errorf("stdout %q, error %q: want the verdict and where to look", out, err)
	}
	rs, _, rerr := experiment.ReadAll([]string{dir})
	if rerr != nil {
		t.Fatal(rerr)
	}
	s := rs[0].Safety
	if !s.Violated() {
		t.Fatalf("saved verdict %+v", s)
	}
	found := false
	for _, c := range s.Checks {
		for _, f := range c.Findings {
			if f.Key == "/zkbench/k0000000" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no finding names the intruded key: %+v", s.Checks)
	}
}

// intrude sets key to values of its own every 20 ms until ctx ends.
func intrude(ctx context.Context, addr, key string) error {
	c, _, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		return err
	}
	defer c.Close()
	wrote := 0
	for i := 0; ctx.Err() == nil; i++ {
		if _, err := c.Set(key, []byte(fmt.Sprintf("intruder-%d", i)), -1); err == nil {
			wrote++
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	if wrote == 0 {
		return fmt.Errorf("never wrote %s", key)
	}
	return nil
}
