package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/server"
	"github.com/zkbench/zkbench/server/config"
	"github.com/zkbench/zkbench/workloads"
)

// documentedMetric is one row of docs/metrics.md's table of built metrics.
type documentedMetric struct {
	name, typ, role string
}

// documentedMetrics reads the table of built metrics from docs/metrics.md.
func documentedMetrics(t *testing.T) []documentedMetric {
	t.Helper()
	f, err := os.Open("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []documentedMetric
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) < 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		rows = append(rows, documentedMetric{
			name: strings.Trim(strings.TrimSpace(cells[1]), "`"),
			typ:  strings.Fields(cells[2])[0],
			role: strings.TrimSpace(cells[3]),
		})
	}
	if len(rows) < 20 {
		t.Fatalf("docs/metrics.md: %d metrics in the table, want the table of built metrics", len(rows))
	}
	return rows
}

// scrapeMetrics reads a Prometheus endpoint with the Prometheus text parser.
func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	return fams
}

// metricValue is a family's count (summary), or value (counter, gauge).
func metricValue(f *dto.MetricFamily) float64 {
	if f == nil || len(f.Metric) == 0 {
		return -1
	}
	m := f.Metric[0]
	switch f.GetType() {
	case dto.MetricType_SUMMARY:
		return float64(m.Summary.GetSampleCount())
	case dto.MetricType_COUNTER:
		return m.Counter.GetValue()
	case dto.MetricType_GAUGE:
		return m.Gauge.GetValue()
	}
	return -1
}

// checkMoved checks that every documented metric of role has its
// documented type and moved between before and after (start: is non-zero
// after).
func checkMoved(t *testing.T, server string, roles []string, before, after map[string]*dto.MetricFamily) {
	t.Helper()
	for _, d := range documentedMetrics(t) {
		f := after[d.name]
		if f == nil {
			if d.role != "-" && strings.Contains(strings.Join(roles, " "), d.role) {
				t.Errorf("%s: %s (%s) is not exported", server, d.name, d.role)
			}
			continue
		}
		if got := strings.ToLower(f.GetType().String()); got != d.typ {
			t.Errorf("%s: %s is a %s, documented as a %s", server, d.name, got, d.typ)
		}
		for _, role := range roles {
			if d.role != role {
				continue
			}
			b, a := metricValue(before[d.name]), metricValue(f)
			if role == "start" && a <= 0 || role != "start" && a == b {
				t.Errorf("%s: %s did not move under load: %v before, %v after", server, d.name, b, a)
			}
		}
	}
}

// load drives writes (creates, sets, ephemerals), reads and watches.
func load(t *testing.T, c *zk.Conn, prefix string, n int) {
	t.Helper()
	for i := range n {
		p := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := c.Create(p, []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
		if _, err := c.Set(p, []byte("value"), -1); err != nil {
			t.Fatalf("set %s: %v", p, err)
		}
		if _, _, _, err := c.GetW(p); err != nil {
			t.Fatalf("get %s: %v", p, err)
		}
	}
	if _, err := c.Create(prefix+"-eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
}

// A standalone Go server with upstream's Prometheus provider keys serves
// its metrics; each documented metric moves under load. Scraped with the
// Prometheus text parser.
func TestPrometheusStandalone(t *testing.T) {
	port := zktest.FreePort(t)
	srv := zktest.StartGo(t, "metricsProvider.className="+config.PrometheusProvider,
		"metricsProvider.httpHost=127.0.0.1", fmt.Sprintf("metricsProvider.httpPort=%d", port), "snapCount=10")
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	before := scrapeMetrics(t, url)
	if before["go_goroutines"] == nil {
		t.Error("exportJvmInfo defaults to true: no Go runtime metrics")
	}
	c := connect(t, srv.Addr)
	load(t, c, "/m", 40)
	checkMoved(t, "standalone", []string{"start", "standalone"}, before, scrapeMetrics(t, url))
}

// In an ensemble of Go servers (processes), the leader's and the learners'
// metrics move under load: proposals, commits, quorum acks, elections and
// syncs.
func TestPrometheusEnsemble(t *testing.T) {
	metricsPorts := []int{zktest.FreePort(t), zktest.FreePort(t), zktest.FreePort(t)}
	cfgs, addrs := ensembleConfigs(t, 3, func(i int) string {
		return fmt.Sprintf("admin.enableServer=false\nmetricsProvider.className=%s\nmetricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=%d",
			config.PrometheusProvider, metricsPorts[i])
	})
	e := zktest.StartConfigs(t, false, cfgs, addrs)
	leader := e.Leader(10 * time.Second)
	learner := (leader + 1) % 3
	url := func(i int) string { return fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPorts[i]) }
	beforeLeader, beforeLearner := scrapeMetrics(t, url(leader)), scrapeMetrics(t, url(learner))
	c := connect(t, addrs[learner])
	load(t, c, "/e", 30)
	afterLeader, afterLearner := scrapeMetrics(t, url(leader)), scrapeMetrics(t, url(learner))
	checkMoved(t, "leader", []string{"start", "leader"}, beforeLeader, afterLeader)
	checkMoved(t, "learner", []string{"start", "learner"}, beforeLearner, afterLearner)
	// What forming the ensemble recorded, before the first scrape: the
	// learner's election and sync, the leader's DIFFs.
	for _, d := range documentedMetrics(t) {
		if d.role == "sync" && max(metricValue(afterLeader[d.name]), metricValue(afterLearner[d.name])) < 1 {
			t.Errorf("%s: %v on the leader, %v on a learner after the ensemble formed, want at least 1", d.name,
				metricValue(afterLeader[d.name]), metricValue(afterLearner[d.name]))
		}
	}
}

// BenchmarkMetricsWritePath measures what the Prometheus provider costs
// the write path: two Go servers (processes), one without a provider and
// one with it on (every hook live, scraped once a second as Prometheus
// would), take 100 % 64-byte setData from 30 clients (10 outstanding
// each), in turns, b.N turns each, with forceSync=no so that the CPU, not
// the disk, bounds them. It reports each server's throughput and its CPU
// time per write (warm-up included) over all its turns, and the ratio of
// the two CPU costs. Run (a heavy benchmark):
//
//	flock /tmp/zkbench-bench.lock go test -run '^$' -bench MetricsWritePath -benchtime 5x ./server/
func BenchmarkMetricsWritePath(b *testing.B) {
	port := zktest.FreePort(b)
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	servers := []*zktest.Process{
		zktest.StartProcess(b, "forceSync=no"),
		zktest.StartProcess(b, "forceSync=no", "metricsProvider.className="+config.PrometheusProvider,
			"metricsProvider.httpHost=127.0.0.1", fmt.Sprintf("metricsProvider.httpPort=%d", port)),
	}
	var cpu, ops, secs [2]float64
	for i := 0; i < b.N; i++ {
		for k, p := range servers {
			spec, _ := workloads.Preset("readratio")
			spec.ReadPercent, spec.ValueSize = 0, 64
			spec.Clients, spec.Outstanding, spec.Keys = 30, 10, 100
			spec.Warmup, spec.Duration = time.Second, 5*time.Second
			stop := make(chan struct{})
			if k == 1 {
				go func() {
					for {
						select {
						case <-stop:
							return
						case <-time.After(time.Second):
							if resp, err := http.Get(url); err == nil {
								io.Copy(io.Discard, resp.Body)
								resp.Body.Close()
							}
						}
					}
				}()
			}
			cpu0, _ := harness.ProcessCPUSeconds(p.PID())
			res, err := bench.Run(context.Background(), bench.Options{Spec: spec, Targets: []bench.Target{{Addr: p.Addr}}})
			close(stop)
			if err != nil {
				b.Fatal(err)
			}
			cpu1, _ := harness.ProcessCPUSeconds(p.PID())
			sum := results.Summarize(res)
			cpu[k] += cpu1 - cpu0
			ops[k] += float64(sum.Ops)
			secs[k] += spec.Duration.Seconds()
		}
	}
	for k, name := range []string{"off", "on"} {
		b.ReportMetric(ops[k]/secs[k], name+"-ops/s")
		b.ReportMetric(cpu[k]/ops[k]*1e6, name+"-cpu-us/op")
	}
	b.ReportMetric((cpu[1]/ops[1])/(cpu[0]/ops[0]), "on/off-cpu")
}

// A taken AdminServer port leaves the server serving without it (upstream
// warns and goes on); a taken Prometheus port stops the server at start,
// naming the setting (upstream's provider failing to start stops it too).
func TestObservabilityPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	srv := zktest.StartGo(t, "admin.enableServer=true", "admin.serverAddress=127.0.0.1", fmt.Sprintf("admin.serverPort=%d", taken))
	if out, err := zktest.FourLetterWord(srv.Addr, "ruok", time.Second); out != "imok" {
		t.Errorf("with the AdminServer's port taken: ruok %q, %v", out, err)
	}

	dir := t.TempDir()
	text := fmt.Sprintf("dataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n"+
		"metricsProvider.className=%s\nmetricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=%d\n",
		dir, zktest.FreePort(t), config.PrometheusProvider, taken)
	cfg, err := config.Parse(strings.NewReader(text), "zoo.cfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = server.Run(ctx, cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(err.Error(), "metricsProvider.httpHost/httpPort") {
		t.Errorf("with the Prometheus port taken: %v, want the server refused naming the setting", err)
	}
}
