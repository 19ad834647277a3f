package experiment

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/testenv"
	"github.com/zkbench/zkbench/internal/zkbin"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// TestScanLog: ERROR (and FATAL) lines of Go's and Java's logs are
// problems, "No space left on device" is a full disk naming the directory
// the line names (else dataLogDir), and lines before the load are left out.
func TestScanLog(t *testing.T) {
	start := time.Date(2026, 12, 7, 0, 0, 10, 0, time.UTC)
	from := start.Add(-time.Second)
	local := start.In(time.Local)
	javaTime := func(d time.Duration) string { return local.Add(d).Format("2006-01-02 15:04:05,000") }
	log := strings.Join([]string{
		`time=2026-12-07T00:00:05.000Z level=ERROR msg="before the load"`,
		`time=2026-12-07T00:00:11.500Z level=INFO msg=serving`,
		`time=2026-12-07T00:00:12.000Z level=ERROR msg="log failed" err="wal: write /logs/server-2/version-2/log.100000001: no space left on device"`,
		`time=2026-12-07T00:00:13.000Z level=ERROR msg="left the ensemble role"`,
		javaTime(4*time.Second) + ` [myid:2] ERROR [SyncThread:2:ZooKeeperCriticalThread@49] - Severe unrecoverable error, from thread : SyncThread:2`,
		`java.io.IOException: No space left on device`,
		javaTime(5*time.Second) + ` [myid:2] WARN  [main:Foo@1] - only a warning`,
	}, "\n")
	got := mergeProblems(ScanLog([]byte(log), 2, from, start, []string{"/logs/server-2", "/data/server-2"}))
	if len(got) != 2 {
		t.Fatalf("problems %+v: want one disk_full (2 lines) and one error (2 lines)", got)
	}
	full, errs := got[0], got[1]
	if full.Kind != results.ProblemDiskFull || full.At != 2*time.Second || full.Count != 2 || !strings.HasPrefix(full.Disk, "/logs/server-2") || !strings.Contains(full.Detail, "no space left") {
		t.Errorf("disk full: %+v", full)
	}
	if errs.Kind != results.ProblemError || errs.At != 3*time.Second || errs.Count != 2 || !strings.Contains(errs.Detail, "left the ensemble role") {
		t.Errorf("errors: %+v", errs)
	}
	if s := full.String(); !strings.Contains(s, "server 2: disk full at /logs/server-2") || !strings.Contains(s, "2 times") {
		t.Errorf("disk full says %q", s)
	}
}

// TestDiskFullRun is issue 21's must-show 4: a run whose servers' log
// disk (a 3 MiB tmpfs as --log-dir) fills up ends with warnings naming the
// server, the disk and the error, and its directory holds every server's
// log and config, and the servers' series.
func TestDiskFullRun(t *testing.T) {
	bin, err := zkbin.BuildZkserver()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zkbin.RemoveBuilds() })
	disk := filepath.Join(t.TempDir(), "logdisk")
	if err := os.Mkdir(disk, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=3m"); err != nil {
		testenv.Missing(t, "cannot mount a tmpfs (needs CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(disk, 0); err != nil {
			if err := syscall.Unmount(disk, syscall.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", disk, err)
			}
		}
	})
	spec := workloads.Default()
	spec.ReadPercent, spec.ValueSize, spec.Clients, spec.Keys = 0, 4096, 4, 100
	spec.Warmup, spec.Duration = 500*time.Millisecond, 4*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{
		Spec:    spec,
		Harness: harness.Options{Impl: harness.ImplGo, Servers: 3, GoCommand: []string{bin, "start-foreground"}, LogDir: disk, TickTime: 300, RunDir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	var full []results.ServerProblem
	for _, p := range res.Servers.Problems {
		if p.Kind == results.ProblemDiskFull {
			full = append(full, p)
		}
	}
	if len(full) == 0 {
		t.Fatalf("no full disk found; problems %+v, warnings %q", res.Servers.Problems, res.Warnings)
	}
	warned := false
	for _, w := range res.Warnings {
		if strings.Contains(w, "disk full at "+disk) && strings.Contains(w, "tmpfs") && strings.Contains(strings.ToLower(w), "no space left on device") && strings.Contains(w, "server ") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning names the server, the disk (%s, tmpfs) and the error: %q", disk, res.Warnings)
	}
	dir := t.TempDir()
	if keep := os.Getenv("ZKBENCH_KEEP_RESULT"); keep != "" {
		dir = keep // to look at the result afterwards
	}
	if err := WriteRun(dir, res); err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= 3; id++ {
		for _, f := range []string{"stdout.log", "zoo.cfg"} {
			p := filepath.Join(dir, results.ServersDir, "server-"+string(rune('0'+id)), f)
			if _, err := os.Stat(p); err != nil {
				if _, err2 := os.Stat(p + ".gz"); err2 != nil {
					t.Errorf("the result does not hold server %d's %s: %v", id, f, err)
				}
			}
		}
	}
	back, err := results.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.Servers == nil || len(back.Servers.Samples) < 6 {
		t.Errorf("servers.csv read back with %v", back.Servers)
	}
	if _, err := os.Stat(filepath.Join(dir, ServersPlot+".png")); err != nil {
		t.Errorf("no servers graph: %v", err)
	}
	report, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil || !strings.Contains(string(report), "disk full at "+disk) {
		t.Errorf("report.md does not say the disk filled (%v)", err)
	}
	for _, w := range res.Warnings {
		t.Log("warning: ", w)
	}
}

// TestSampleOfDeadProcess: a sample of a process that died as it was
// taken (no /proc entry, so no RSS) has unknown CPU, not zero, which would
// make the server's CPU go backwards.
func TestSampleOfDeadProcess(t *testing.T) {
	start := time.Now()
	got := sampleOf(harness.MntrSnapshot{Time: start.Add(time.Second), ID: 2, Role: harness.RoleFollower, PID: 42}, start)
	if !math.IsNaN(got.CPUSeconds) || !math.IsNaN(got.RSSKiB) || got.Up || got.At != time.Second {
		t.Errorf("sample of a dead process: %+v", got)
	}
	got = sampleOf(harness.MntrSnapshot{Time: start, ID: 2, PID: 42, CPUSeconds: 1.5, RSSKiB: 2048, Values: map[string]string{"zk_server_state": "leader", "zk_sum_fsynctime": "12.5", "zk_cnt_fsynctime": "10", "zk_fsync_count": "99"}}, start)
	if got.CPUSeconds != 1.5 || got.RSSKiB != 2048 || !got.Up || got.Role != "leader" || got.FsyncMs != 12.5 || got.FsyncCount != 10 || !math.IsNaN(got.Outstanding) {
		t.Errorf("sample of a live leader: %+v", got)
	}
}
