package harness

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// promToMntr maps the Prometheus metrics a sample reads (upstream's names,
// as the Go server serves them: docs/metrics.md) to the mntr keys they
// stand for in MntrSnapshot.Values. Summaries give their _sum and _count.
var promToMntr = map[string][2]string{
	"fsynctime":             {"zk_sum_fsynctime", "zk_cnt_fsynctime"},
	"outstanding_requests":  {"zk_outstanding_requests"},
	"znode_count":           {"zk_znode_count"},
	"num_alive_connections": {"zk_num_alive_connections"},
	"global_sessions":       {"zk_global_sessions"},
	"watch_count":           {"zk_watch_count"},
}

// scrapePrometheus reads url's text exposition with Prometheus's parser and
// returns the promToMntr figures under their mntr keys.
func scrapePrometheus(ctx context.Context, c *http.Client, url string) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("harness: scrape %s: %w", url, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("harness: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("harness: scrape %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("harness: scrape %s: %w", url, err)
	}
	out := map[string]string{}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for name, keys := range promToMntr {
		fam, ok := fams[name]
		if !ok || len(fam.GetMetric()) == 0 {
			continue
		}
		m := fam.GetMetric()[0]
		switch fam.GetType() {
		case dto.MetricType_SUMMARY:
			out[keys[0]] = f(m.GetSummary().GetSampleSum())
			out[keys[1]] = strconv.FormatUint(m.GetSummary().GetSampleCount(), 10)
		case dto.MetricType_GAUGE:
			out[keys[0]] = f(m.GetGauge().GetValue())
		case dto.MetricType_COUNTER:
			out[keys[0]] = f(m.GetCounter().GetValue())
		case dto.MetricType_UNTYPED:
			out[keys[0]] = f(m.GetUntyped().GetValue())
		}
	}
	return out, nil
}
