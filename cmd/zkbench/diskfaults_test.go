package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/workloads"
)

// A schedule with a disk fault mounts the fault-injecting disks by
// itself, as a partition turns the peer proxies on; --disk-faults asks for
// them without one; an external ensemble cannot have them.
func TestDiskFaultsFlag(t *testing.T) {
	sched := filepath.Join(t.TempDir(), "disk.sched")
	if err := os.WriteFile(sched, []byte("at 1s power-loss follower as p; at 2s restart p\nat 3s fsync-slow leader 100ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := workloads.Default()
	spec.Duration = 10 * time.Second
	for _, c := range []struct {
		args   []string
		faults string
		want   bool
	}{
		{nil, "none", false},
		{[]string{"--disk-faults"}, "none", true},
		{nil, sched, true},
	} {
		var e ensembleOptions
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		e.addFlags(fs, 3)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		h, err := e.harness(1, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config(e, spec, c.faults, common{}, io.Discard)
		if err != nil {
			t.Fatalf("%v %s: %v", c.args, c.faults, err)
		}
		if cfg.Harness.DiskFaults != c.want || (len(c.args) > 0 && h.DiskFaults != c.want) {
			t.Errorf("%v --faults %s: DiskFaults %v, want %v", c.args, c.faults, cfg.Harness.DiskFaults, c.want)
		}
	}
	var e ensembleOptions
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	e.addFlags(fs, 3)
	if err := fs.Parse([]string{"--impl", "external", "--connect", "127.0.0.1:2181", "--disk-faults"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.harness(1, nil); exitCode(err) != exitUsage {
		t.Errorf("--disk-faults on an external ensemble: %v (exit %d), want a usage error", err, exitCode(err))
	}
}

// The matrix knows the disk faults' repairs.
func TestMatrixDiskFaultKinds(t *testing.T) {
	ks, err := parseKinds("disk-full, fsync-fail, power-loss", "leader")
	if err != nil {
		t.Fatal(err)
	}
	want := map[harness.Action]harness.Action{harness.DiskFull: harness.DiskHeal, harness.FsyncFail: harness.DiskHeal, harness.PowerLoss: harness.Restart}
	if len(ks) != len(want) {
		t.Fatalf("kinds %v", ks)
	}
	for _, k := range ks {
		if want[k.Fault] != k.Repair {
			t.Errorf("%s: repair %s, want %s", k.Fault, k.Repair, want[k.Fault])
		}
	}
}

// --faults random draws disk faults too, each with its repair, and the
// run then mounts the fault-injecting disks.
func TestRandomDiskFaults(t *testing.T) {
	var e ensembleOptions
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	e.addFlags(fs, 3)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	spec := workloads.Default()
	spec.Duration = time.Minute
	cfg, err := config(e, spec, "random", common{random: randomFaults{seed: 9, rate: 30, mix: "disk-full,fsync-fail,power-loss"}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[harness.Action]int{}
	for _, st := range cfg.Schedule.Steps {
		seen[st.Action]++
	}
	if seen[harness.DiskFull]+seen[harness.FsyncFail] == 0 || seen[harness.DiskHeal] != seen[harness.DiskFull]+seen[harness.FsyncFail] ||
		seen[harness.PowerLoss] == 0 || seen[harness.Restart] != seen[harness.PowerLoss] {
		t.Fatalf("actions %v: want disk faults, each repaired", seen)
	}
	if !cfg.Harness.DiskFaults {
		t.Error("a random schedule of disk faults did not turn on the fault-injecting disks")
	}
}
