package experiment

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/zkbin"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// BenchmarkSamplingCost is issue 21's must-show 3: what sampling every
// server every harness.DefaultMntrInterval costs the servers, as a share of
// their CPU under load. Two measures:
//
//   - alternated: the same open-loop load (fixed rate, so the servers' work
//     is the same) in phases with and without sampling, A B B A ..., the
//     servers' CPU per phase compared;
//   - per call: the servers' CPU over a burst of back-to-back samples of the
//     idle ensemble, less an idle stretch as long, per sample, against
//     their CPU per second under the load.
//
// Run it alone on the machine (under flock): ZKBENCH_COST_IMPL=java for
// Java servers; ZKBENCH_COST_PAIRS (default 4) and ZKBENCH_COST_PHASE
// (default 8s) for longer measurements. It fails if the per-call measure
// is 2 % or more, or the alternated one is by more than the spread of the
// phases without sampling (on a shared machine the others' load moves the
// servers' CPU per operation by tens of percent).
func BenchmarkSamplingCost(b *testing.B) {
	impl := os.Getenv("ZKBENCH_COST_IMPL")
	if impl == "" {
		impl = harness.ImplGo
	}
	pairs := envInt("ZKBENCH_COST_PAIRS", 4)
	phase, err := time.ParseDuration(envOr("ZKBENCH_COST_PHASE", "8s"))
	if err != nil {
		b.Fatal(err)
	}
	ho := harness.Options{Impl: impl, Servers: 3, LeaderServes: true, MntrInterval: -1, RunDir: b.TempDir()}
	if impl == harness.ImplGo {
		bin, err := zkbin.BuildZkserver()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { zkbin.RemoveBuilds() })
		ho.GoCommand = []string{bin, "start-foreground"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(2*pairs+4)*phase+2*time.Minute)
	defer cancel()
	ens, closeEns, err := StartEnsemble(ctx, ho)
	if err != nil {
		b.Fatal(err)
	}
	defer closeEns()
	cpu := func() float64 {
		var t float64
		for _, st := range ens.Stats() {
			t += st.CPUSeconds
		}
		return t
	}

	// Per call, on the idle ensemble.
	idle0 := cpu()
	time.Sleep(2 * time.Second)
	idle := cpu() - idle0
	const burst = 200
	t0, c0 := time.Now(), cpu()
	for range burst {
		ens.Sample(ctx)
	}
	burstLen, burstCPU := time.Since(t0), cpu()-c0
	perSample := (burstCPU - idle*burstLen.Seconds()/2) / burst

	spec := workloads.Default()
	spec.ReadPercent, spec.Clients, spec.Keys = 70, 20, 1000
	spec.Mode, spec.Rate = workloads.Open, 4000
	spec.Warmup, spec.Duration = 500*time.Millisecond, phase
	// One unmeasured phase first: a JVM compiles its hot paths in it
	// (Java's first phase used 1.9 cores against 1.2 for the later ones).
	if _, err := bench.Run(ctx, bench.Options{Spec: spec, Targets: Targets(ens), Placement: bench.RoundRobin}); err != nil {
		b.Fatal(err)
	}
	var with, without []float64 // server CPU seconds per phase
	for i := range 2 * pairs {
		// A B B A ...: a linear drift (a JVM still compiling, others'
		// load) cancels over each four phases.
		sampling := i%4 == 0 || i%4 == 3
		stop := make(chan struct{})
		done := make(chan struct{})
		if sampling {
			go func() {
				defer close(done)
				t := time.NewTicker(harness.DefaultMntrInterval)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						ens.Sample(ctx)
					}
				}
			}()
		} else {
			close(done)
		}
		before := cpu()
		res, err := bench.Run(ctx, bench.Options{Spec: spec, Targets: Targets(ens), Placement: bench.RoundRobin})
		close(stop)
		<-done
		if err != nil {
			b.Fatal(err)
		}
		used := (cpu() - before) / (res.Measured + spec.Warmup).Seconds()
		b.Logf("phase %d, sampling %v: servers %.3f cores, %d ops", i, sampling, used, results.Summarize(res).Ops)
		if sampling {
			with = append(with, used)
		} else {
			without = append(without, used)
		}
	}
	mean := func(xs []float64) float64 {
		var s float64
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	load := mean(without)
	alternated := 100 * (mean(with) - load) / load
	perCall := 100 * perSample / harness.DefaultMntrInterval.Seconds() / load
	b.ReportMetric(alternated, "%cpu-alternated")
	b.ReportMetric(perCall, "%cpu-per-call")
	b.ReportMetric(perSample*1e3/3, "ms-cpu/sample/server")
	// The phases without sampling differ among themselves too: how much
	// says what the alternated measure can resolve on this machine.
	noise := 100 * (slices.Max(without) - slices.Min(without)) / load
	b.ReportMetric(noise, "%cpu-noise")
	b.Logf("%s, 3 servers: loaded servers use %.3f cores without sampling, %.3f with (%+.2f %%; phases without sampling spread over %.1f %%); one sample of all 3 costs them %.2f ms of CPU, %.3f %% of their CPU at one per %v",
		impl, load, mean(with), alternated, noise, perSample*1e3, perCall, harness.DefaultMntrInterval)
	// The alternated measure fails the benchmark only when it is above
	// 2 % by more than the phases' own spread: on a shared machine,
	// others' load moves the servers' CPU per operation (batching) by
	// more than sampling does.
	if perCall >= 2 || alternated-noise >= 2 {
		b.Errorf("sampling costs the servers %.2f %% ± %.1f %% (alternated) / %.3f %% (per call) of their CPU: want under 2 %%", alternated, noise, perCall)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envInt(k string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(k), &n); err != nil || n <= 0 {
		return def
	}
	return n
}

// TestSampleCPU bounds what one sample costs each server, on an idle
// ensemble (no load run needed): under 5 ms of CPU, so that at one sample
// per harness.DefaultMntrInterval it is under 2 % of the CPU of a server
// using a quarter of a core or more, as every server of a benchmark run
// does. (Measured: about 1 ms for Go, mntr and Prometheus; about 2 ms for
// Java, whose mntr lists some 300 figures.) BenchmarkSamplingCost measures
// the share under load.
func TestSampleCPU(t *testing.T) {
	bin, err := zkbin.BuildZkserver()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zkbin.RemoveBuilds() })
	for _, impl := range []string{harness.ImplGo, harness.ImplJava} {
		t.Run(impl, func(t *testing.T) {
			ho := harness.Options{Impl: impl, Servers: 3, LeaderServes: true, MntrInterval: -1, RunDir: t.TempDir(), GoCommand: []string{bin, "start-foreground"}}
			if impl == harness.ImplJava {
				if _, err := zkbin.FindJava(zkbin.LogLog4j); err != nil {
					t.Fatalf("Java ZooKeeper: %v", err)
				}
				ho.JavaHeap = "128m"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			ens, closeEns, err := StartEnsemble(ctx, ho)
			if err != nil {
				t.Fatal(err)
			}
			defer closeEns()
			cpu := func() float64 {
				var s float64
				for _, st := range ens.Stats() {
					s += st.CPUSeconds
				}
				return s
			}
			for range 50 { // warm up (Java's JIT)
				ens.Sample(ctx)
			}
			i0 := cpu()
			time.Sleep(2 * time.Second)
			idle := (cpu() - i0) / 2
			const n = 300
			t0, c0 := time.Now(), cpu()
			for range n {
				ens.Sample(ctx)
			}
			per := (cpu() - c0 - idle*time.Since(t0).Seconds()) / n / 3
			t.Logf("%s: one sample costs each server %.3f ms of CPU (idle servers use %.1f ms/s together); at one per %v that is %.2f %% of a quarter of a core",
				impl, per*1e3, idle*1e3, harness.DefaultMntrInterval, 100*per/harness.DefaultMntrInterval.Seconds()/0.25)
			if per >= 0.005 {
				t.Errorf("one sample costs each server %.3f ms of CPU: want under 5 ms", per*1e3)
			}
			for _, s := range ens.MntrSnapshots()[:3] {
				if s.Values == nil {
					t.Errorf("server %d did not answer a sample", s.ID)
				}
			}
		})
	}
}
