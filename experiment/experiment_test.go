package experiment

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/synth"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

func TestDirName(t *testing.T) {
	r := synth.Result(synth.Options{Servers: 7, ReadPercent: 70, Start: time.Date(2026, 11, 22, 6, 30, 59, 0, time.UTC)})
	if got := DirName(r); got != "2026-11-22T0630-go-7srv-30w" {
		t.Errorf("DirName = %q", got)
	}
	r.Spec.ReadPercent = 87.5
	r.Ensemble.Config = map[string]string{"faults": "/tmp/my sched.txt"}
	if got := DirName(r); got != "2026-11-22T0630-go-7srv-12.5w-my_sched" {
		t.Errorf("DirName with faults = %q", got)
	}
}

func TestSaveNeverOverwrites(t *testing.T) {
	root := t.TempDir()
	r := synth.Result(synth.Options{Duration: 2 * time.Second})
	a, err := Save(root, r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Save(root, r)
	if err != nil {
		t.Fatal(err)
	}
	if a == b || !strings.HasSuffix(b, "-2") {
		t.Errorf("second save of the same run went to %s (first %s), want a -2 suffix", b, a)
	}
	for _, f := range []string{results.JSONFile, ReportFile, ThroughputPlot + ".png", ThroughputPlot + ".svg", SpectrumPlot + ".png", LatencyPlot + ".png"} {
		if _, err := os.Stat(filepath.Join(a, f)); err != nil {
			t.Error(err)
		}
	}
	rs, dirs, err := ReadAll([]string{root})
	if err != nil || len(rs) != 2 || dirs[0] != a || dirs[1] != b {
		t.Errorf("ReadAll(root) = %d results in %v, %v", len(rs), dirs, err)
	}
	// A result.json path works too.
	if rs, _, err := ReadAll([]string{filepath.Join(a, results.JSONFile)}); err != nil || len(rs) != 1 {
		t.Errorf("ReadAll(result.json) = %d, %v", len(rs), err)
	}
}

func TestReadAllErrors(t *testing.T) {
	root := t.TempDir()
	empty := filepath.Join(root, "empty")
	os.Mkdir(empty, 0o755)
	future := filepath.Join(root, "future")
	os.Mkdir(future, 0o755)
	os.WriteFile(filepath.Join(future, results.JSONFile), []byte(`{"schema": 99}`), 0o644)
	for path, want := range map[string]string{
		empty:                          "no result under",
		future:                         "is not a result this zkbench can read",
		filepath.Join(root, "missing"): "no such file",
	} {
		if _, _, err := ReadAll([]string{path}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadAll(%s): %v, want %q", filepath.Base(path), err, want)
		}
	}
	if _, _, err := ReadAll([]string{future}); !errors.Is(err, results.ErrSchema) {
		t.Errorf("a newer schema does not wrap results.ErrSchema: %v", err)
	}
}

func TestResultEvents(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := harness.Event{
		Step: harness.Step{Action: harness.Kill, Note: "3"},
		Time: start.Add(10 * time.Second), ID: 7, Role: harness.RoleLeader,
		Recovered: true, Recovery: 300 * time.Millisecond,
		LeaderLost: true, Elected: true, Election: 150 * time.Millisecond, NewLeader: 5,
	}
	got := ResultEvents(ev, start)
	if len(got) != 3 {
		t.Fatalf("events %+v, want kill, elected, recovered", got)
	}
	if got[0].At != 10*time.Second || got[0].Name != "kill" || got[0].Detail != "3: kill server 7 (leader)" {
		t.Errorf("fault event %+v", got[0])
	}
	if got[1].At != 10*time.Second+150*time.Millisecond || got[1].Name != "elected" || !strings.Contains(got[1].Detail, "server 5 leads after 150ms") {
		t.Errorf("election event %+v", got[1])
	}
	if got[2].At != 10*time.Second+300*time.Millisecond || got[2].Name != "recovered" {
		t.Errorf("recovery event %+v", got[2])
	}
	ev = harness.Event{Step: harness.Step{Action: harness.Kill, Target: harness.Target{Kind: harness.TargetFollower}}, Time: start, Skipped: true, Reason: "no follower running"}
	if got := ResultEvents(ev, start); len(got) != 1 || got[0].Name != "skipped" || !strings.Contains(got[0].Detail, "no follower running") {
		t.Errorf("skipped step: %+v", got)
	}
}

func TestValidate(t *testing.T) {
	spec := workloads.Default()
	spec.Duration = 10 * time.Second
	base := Config{Spec: spec, Harness: harness.Options{Impl: harness.ImplGo, Servers: 3, GoCommand: []string{"zkserver"}}}
	for name, tc := range map[string]struct {
		mut  func(*Config)
		want string
	}{
		"no servers":   {func(c *Config) { c.Harness.Servers = 0 }, "0 servers"},
		"no command":   {func(c *Config) { c.Harness.GoCommand = nil }, "server command"},
		"bad impl":     {func(c *Config) { c.Harness.Impl = "rust" }, `"rust"`},
		"no connect":   {func(c *Config) { c.Harness.Impl = harness.ImplExternal }, "connection string"},
		"delay":        {func(c *Config) { c.PeerDelay = time.Millisecond }, "peer proxies"},
		"late faults":  {func(c *Config) { c.Schedule = harness.PaperSchedule(time.Minute) }, "lengthen the run"},
		"invalid spec": {func(c *Config) { c.Spec.Clients = 0 }, "clients"},
	} {
		c := base
		tc.mut(&c)
		err := c.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrInvalid mentioning %q", name, err, tc.want)
		}
	}
	if err := base.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}
