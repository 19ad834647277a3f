package metrics

import (
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads m's endpoint with the Prometheus text parser.
func scrape(t *testing.T, m *Server) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return fams
}

// Summaries carry upstream's quantiles and milliseconds, counters count,
// mntr's numeric figures become gauges (never shadowing a metric of the
// same name), and a nil Summary or Counter records nothing.
func TestServer(t *testing.T) {
	m := New(Options{Gauges: func() [][2]string {
		return [][2]string{{"version", "3.8.0"}, {"znode_count", "5"}, {"commit_count", "99"}, {"last_zxid", "0x10"}}
	}})
	m.FsyncTime.Observe(3 * time.Millisecond)
	m.UpdateLatency.ObserveN(2*time.Millisecond, 4)
	m.CommitCount.Add(2)
	m.ProposalCount.Inc()
	var none *Server
	none.Or().FsyncTime.Observe(time.Second)
	none.Or().CommitCount.Inc()

	fams := scrape(t, m)
	f := fams["fsynctime"]
	if f.GetType() != dto.MetricType_SUMMARY || f.Metric[0].Summary.GetSampleCount() != 1 || f.Metric[0].Summary.GetSampleSum() != 3 {
		t.Errorf("fsynctime = %v, want a summary of one 3 ms fsync", f)
	}
	if q := f.Metric[0].Summary.Quantile; len(q) != 1 || q[0].GetQuantile() != 0.5 {
		t.Errorf("fsynctime quantiles %v, want the median only (BASIC)", q)
	}
	u := fams["updatelatency"].Metric[0].Summary
	if u.GetSampleCount() != 4 || len(u.Quantile) != 3 {
		t.Errorf("updatelatency = %v, want 4 samples and 3 quantiles (ADVANCED)", u)
	}
	if c := fams["commit_count"]; c.GetType() != dto.MetricType_COUNTER || c.Metric[0].Counter.GetValue() != 2 {
		t.Errorf("commit_count = %v, want the counter at 2 (not mntr's 99)", c)
	}
	if g := fams["znode_count"]; g.GetType() != dto.MetricType_GAUGE || g.Metric[0].Gauge.GetValue() != 5 {
		t.Errorf("znode_count = %v, want the gauge 5", g)
	}
	for _, name := range []string{"version", "last_zxid"} {
		if fams[name] != nil {
			t.Errorf("%s exported, but it is not a number", name)
		}
	}
	if fams["go_goroutines"] != nil {
		t.Error("Go runtime metrics without Runtime")
	}
	if fams := scrape(t, New(Options{Runtime: true})); fams["go_goroutines"] == nil || fams["process_cpu_seconds_total"] == nil {
		t.Error("Runtime: no go_goroutines or process_cpu_seconds_total")
	}
}

// BenchmarkHooks is what a write costs in metrics on its path: one
// updatelatency observation, bytes received, and on an ensemble's leader a
// proposal, a commit and a quorum ack, plus a share of one fsync
// observation; "off" is a server without a provider (nil metrics).
func BenchmarkHooks(b *testing.B) {
	for _, bc := range []struct {
		name string
		m    *Server
	}{{"off", (*Server)(nil).Or()}, {"on", New(Options{})}} {
		b.Run(bc.name, func(b *testing.B) {
			m := bc.m
			b.ReportAllocs()
			for b.Loop() {
				m.BytesReceived.Add(64)
				m.UpdateLatency.Observe(time.Millisecond)
				m.ProposalCount.Inc()
				m.CommitCount.Inc()
				m.QuorumAckLatency.Observe(time.Millisecond)
				m.FsyncTime.Observe(time.Millisecond)
			}
		})
	}
}
