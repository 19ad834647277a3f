package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/bench/internal/fakezk"
	"github.com/zkbench/zkbench/workloads"
)

// childEnv makes the test binary a fake ZooKeeper server instead: the
// benchmarks run the server in its own process so that the driver's CPU
// use (getrusage of this process) is the driver's alone.
const childEnv = "ZKBENCH_FAKEZK_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		srv, err := fakezk.Start(fakezk.Options{ValueSize: 1024})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(srv.Addr())
		bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin or dies
		srv.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startChildFake runs a zero-delay fake server in a child process.
func startChildFake(b *testing.B) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill() // by PID
		cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("fake server child: %v", err)
	}
	return strings.TrimSpace(addr)
}

// BenchmarkDriver measures what the driver costs per operation against a
// zero-delay fake server in another process, for a few ways of reaching the
// same concurrency (clients x outstanding requests per client). Run it as
//
//	go test -run '^$' -bench Driver -benchtime 1x ./bench
//
// Metrics: ops/s, driver CPU seconds per 10k operations, the rate one
// driver core would sustain, and heap allocations per operation (including
// go-zookeeper's own; compare BenchmarkGoZookeeperGet).
func BenchmarkDriver(b *testing.B) {
	addr := startChildFake(b)
	for _, shape := range []struct{ clients, outstanding int }{{60, 100}, {600, 10}, {60, 10}, {60, 1}} {
		b.Run(fmt.Sprintf("%dx%d", shape.clients, shape.outstanding), func(b *testing.B) {
			spec := workloads.Default()
			spec.ReadPercent = 100
			spec.Clients = shape.clients
			spec.Outstanding = shape.outstanding
			spec.Keys = 100
			spec.Warmup = 500 * time.Millisecond
			spec.Duration = 2 * time.Second
			var ops int64
			var cpu float64
			var mallocs uint64
			for b.Loop() {
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				res, err := Run(context.Background(), Options{Spec: spec, Targets: []Target{{Addr: addr}}, SkipSetup: true})
				runtime.ReadMemStats(&m1)
				if err != nil {
					b.Fatal(err)
				}
				ok, failed := totalOps(res)
				if failed > 0 {
					b.Fatalf("%d errors", failed)
				}
				ops += ok
				cpu += res.Driver.CPUSeconds
				mallocs += m1.Mallocs - m0.Mallocs
				b.ReportMetric(float64(ok)/res.Measured.Seconds(), "ops/s")
				b.ReportMetric(res.Driver.CPUPer10kOps, "cpu-s/10k-ops")
				b.ReportMetric(1e4/res.Driver.CPUPer10kOps, "ops/core-s")
			}
			// Mallocs cover set-up and warm-up too, so this overstates a little.
			b.ReportMetric(float64(mallocs)/float64(ops), "mallocs/op")
		})
	}
}

// BenchmarkGoZookeeperGet is the floor: one go-zookeeper Get at a time on
// one session, no driver around it.
func BenchmarkGoZookeeperGet(b *testing.B) {
	addr := startChildFake(b)
	conn, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	for conn.State() != zk.StateHasSession {
		time.Sleep(time.Millisecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := conn.Get("/zkbench/k0000001"); err != nil {
			b.Fatal(err)
		}
	}
}
