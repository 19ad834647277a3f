package server_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server/config"
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
	root := t.TempDir()
	type ports struct{ client, quorum, election, metrics int }
	ps := make([]ports, 3)
	var lines []string
	for i := range ps {
		ps[i] = ports{zktest.FreePort(t), zktest.FreePort(t), zktest.FreePort(t), zktest.FreePort(t)}
		lines = append(lines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", i+1, ps[i].quorum, ps[i].election))
	}
	var cfgs, addrs []string
	for i, p := range ps {
		dir := filepath.Join(root, fmt.Sprintf("s%d", i+1))
		data := filepath.Join(dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		text := fmt.Sprintf("tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
			"4lw.commands.whitelist=*\nadmin.enableServer=false\nmetricsProvider.className=%s\nmetricsProvider.httpHost=127.0.0.1\n"+
			"metricsProvider.httpPort=%d\n%s\n", data, p.client, config.PrometheusProvider, p.metrics, strings.Join(lines, "\n"))
		cfg := filepath.Join(dir, "zoo.cfg")
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfgs, addrs = append(cfgs, cfg), append(addrs, fmt.Sprintf("127.0.0.1:%d", p.client))
	}
	e := zktest.StartConfigs(t, false, cfgs, addrs)
	leader := e.Leader(10 * time.Second)
	learner := (leader + 1) % 3
	url := func(i int) string { return fmt.Sprintf("http://127.0.0.1:%d/metrics", ps[i].metrics) }
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
