package noop

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// BenchmarkGoZKClients drives the no-op server with N go-zookeeper/zk
// clients, each with W goroutines issuing requests back to back (so up to W
// outstanding per client), and reports ops/s: the ceiling the client
// library and this machine impose on any server.
//
// By default the server runs in the benchmark's own process; set
// ZKNOOP_BENCH_ADDR=host:port to drive an external one instead (for example
// `zknoop -addr 127.0.0.1:2191`), which leaves the server its own process as
// in a real comparison.
//
//	go test ./server/noop -run XXX -bench GoZKClients -benchtime 100000x
func BenchmarkGoZKClients(b *testing.B) {
	value := make([]byte, 1024)
	for _, op := range []string{"get", "set"} {
		for _, clients := range []int{1, 16, 60} {
			for _, outstanding := range []int{1, 4} {
				name := fmt.Sprintf("op=%s/clients=%d/outstanding=%d", op, clients, outstanding)
				b.Run(name, func(b *testing.B) {
					addr := os.Getenv("ZKNOOP_BENCH_ADDR")
					if addr == "" {
						addr = startServer(b, &Server{})
					}
					conns := make([]*zk.Conn, clients)
					for i := range conns {
						conns[i] = connect(b, addr)
					}
					var (
						next   atomic.Int64
						failed atomic.Int64
						wg     sync.WaitGroup
					)
					n := int64(b.N)
					b.ResetTimer()
					start := time.Now()
					for _, c := range conns {
						for range outstanding {
							wg.Add(1)
							go func() {
								defer wg.Done()
								for next.Add(1) <= n {
									var err error
									if op == "get" {
										_, _, err = c.Get("/bench/node")
									} else {
										_, err = c.Set("/bench/node", value, -1)
									}
									if err != nil {
										failed.Add(1)
									}
								}
							}()
						}
					}
					wg.Wait()
					elapsed := time.Since(start)
					b.StopTimer()
					if f := failed.Load(); f > 0 {
						b.Fatalf("%d of %d requests failed", f, n)
					}
					b.ReportMetric(float64(n)/elapsed.Seconds(), "ops/s")
				})
			}
		}
	}
}
