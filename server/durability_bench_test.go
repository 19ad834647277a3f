package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/workloads"
)

// BenchmarkStandaloneWrites measures 100 % 1 KiB setData from 60 clients
// (10 outstanding each) against standalone Go and Java servers, back to
// back, with the transaction log in dataDir and with dataLogDir on a
// separate directory (tmpfs here, standing in for a dedicated log disk),
// and reports throughput, p99 and, for Go, the mean txns per fsync. Run:
//
//	go test -run '^$' -bench StandaloneWrites -benchtime 1x ./server/
func BenchmarkStandaloneWrites(b *testing.B) {
	shm, err := os.MkdirTemp("/dev/shm", "zkbench-logdir-")
	if err != nil {
		b.Skipf("SKIPPING: no tmpfs for a separate log directory: %v", err)
	}
	defer os.RemoveAll(shm)
	servers := []struct {
		name  string
		addr  string
		goSrv bool
	}{
		{"go", zktest.StartProcess(b).Addr, true},
		{"java", zktest.StartJava(b).Addr, false},
		{"go-logdir", zktest.StartProcess(b, "dataLogDir="+filepath.Join(shm, "go")).Addr, true},
		{"java-logdir", zktest.StartJava(b, "dataLogDir="+filepath.Join(shm, "java")).Addr, false},
	}
	for _, s := range servers {
		b.Run(s.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				spec, _ := workloads.Preset("readratio")
				spec.ReadPercent = 0
				spec.Clients, spec.Outstanding, spec.Keys = 60, 10, 100
				spec.Warmup, spec.Duration = time.Second, 5*time.Second
				res, err := bench.Run(context.Background(), bench.Options{Spec: spec, Targets: []bench.Target{{Addr: s.addr}}})
				if err != nil {
					b.Fatal(err)
				}
				sum := results.Summarize(res)
				b.ReportMetric(sum.Throughput.Mean, "ops/s")
				b.ReportMetric(float64(sum.All.P99.Microseconds())/1000, "p99-ms")
				if s.goSrv {
					if v, err := strconv.ParseFloat(mntrValue(s.addr, "zk_fsync_mean_batch"), 64); err == nil {
						b.ReportMetric(v, "txns/fsync")
					}
				}
			}
		})
	}
}

func mntrValue(addr, key string) string {
	out, _ := zktest.FourLetterWord(addr, "mntr", time.Second)
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, key+"\t"); ok {
			return v
		}
	}
	return ""
}
