package metrics

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// documented reads the metric names of docs/metrics.md's table of built
// metrics, with the series a summary adds (_sum, _count).
func documented(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) < 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		names[name] = true
		if strings.HasPrefix(strings.TrimSpace(cells[2]), "summary") {
			names[name+"_sum"], names[name+"_count"] = true, true
		}
	}
	return names
}

// promQL are the words of a PromQL expression that are not metric names.
var promQL = map[string]bool{
	"rate": true, "irate": true, "increase": true, "sum": true, "avg": true, "max": true, "min": true,
	"by": true, "without": true, "deriv": true, "delta": true, "topk": true, "count": true, "on": true,
	"ignoring": true, "offset": true, "and": true, "or": true, "unless": true, "clamp_min": true,
}

var (
	labelMatchers = regexp.MustCompile(`\{[^}]*\}`)
	ranges        = regexp.MustCompile(`\[[^\]]*\]`)
	byClause      = regexp.MustCompile(`\b(by|without|on|ignoring)\s*\([^)]*\)`)
	identifier    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// queried returns the metric names a PromQL expression reads.
func queried(expr string) []string {
	expr = labelMatchers.ReplaceAllString(expr, " ")
	expr = ranges.ReplaceAllString(expr, " ")
	expr = byClause.ReplaceAllString(expr, " ")
	var out []string
	for _, w := range identifier.FindAllString(expr, -1) {
		if !promQL[w] {
			out = append(out, w)
		}
	}
	return out
}

// The Grafana dashboard is valid JSON, and every metric its panels and
// variables query is one docs/metrics.md documents, or one of the Go
// runtime's and the process's collectors as this package exports them.
func TestDashboardQueriesDocumentedMetrics(t *testing.T) {
	data, err := os.ReadFile("../../deploy/grafana/zkbench-go-server.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query any `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("not a dashboard: %v", err)
	}
	known := documented(t)
	fams, err := New(Options{Runtime: true}).reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if n := f.GetName(); strings.HasPrefix(n, "go_") || strings.HasPrefix(n, "process_") {
			known[n] = true
		}
	}
	check := func(where, expr string) {
		for _, name := range queried(expr) {
			if !known[name] {
				t.Errorf("%s queries %s, which docs/metrics.md does not document (in %q)", where, name, expr)
			}
		}
	}
	targets := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			targets++
			check("panel "+p.Title, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		// label_values(metric, label): the metric only.
		if q, ok := v.Query.(string); ok && strings.HasPrefix(q, "label_values(") {
			args := strings.TrimSuffix(strings.TrimPrefix(q, "label_values("), ")")
			if i := strings.LastIndex(args, ","); i >= 0 {
				args = args[:i]
			}
			check("variable", args)
		}
	}
	if targets < 10 {
		t.Errorf("%d queries: the dashboard should show latency, fsync, quorum, elections, sessions, znodes, watches", targets)
	}
	// The check itself catches an undocumented name.
	if got := queried(`rate(fsynctime_count{instance="$instance"}[1m]) / max by (job) (no_such_metric)`); len(got) != 2 || got[1] != "no_such_metric" {
		t.Errorf("queried: %v", got)
	}
}
