package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/zkbench/zkbench/results"
)

// Column is one result in a comparison, with its heading.
type Column struct {
	Label  string
	Result *results.Result
}

// Compare writes a Markdown table with one column per result: what ran, and
// throughput, latency percentiles, errors and driver cost, each later column
// with its change relative to the first.
func Compare(w io.Writer, cols []Column, graphs []Graph) error {
	if len(cols) == 0 {
		return fmt.Errorf("report: compare: no results")
	}
	sums := make([]results.Summary, len(cols))
	for i, c := range cols {
		sums[i] = results.Summarize(c.Result)
	}
	var b strings.Builder
	b.WriteString("# zkbench comparison\n\n| | ")
	heads := make([]string, len(cols))
	for i, c := range cols {
		heads[i] = c.Label
	}
	b.WriteString(strings.Join(heads, " | "))
	b.WriteString(" |\n| --- |" + strings.Repeat(" ---: |", len(cols)) + "\n")
	text := func(name string, f func(c Column) string) {
		fmt.Fprintf(&b, "| %s |", name)
		for _, c := range cols {
			fmt.Fprintf(&b, " %s |", f(c))
		}
		b.WriteString("\n")
	}
	num := func(name string, f func(s results.Summary) float64, format func(float64) string) {
		fmt.Fprintf(&b, "| %s |", name)
		base := f(sums[0])
		for i, s := range sums {
			v := f(s)
			cell := format(v)
			if i > 0 && base != 0 {
				cell += fmt.Sprintf(" (%+.1f%%)", 100*(v-base)/base)
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	text("implementation", func(c Column) string { return c.Result.Ensemble.Label() })
	text("servers", func(c Column) string { return fmt.Sprint(c.Result.Ensemble.Size) })
	text("writes", func(c Column) string { return pct(c.Result.Spec.WritePercent()) })
	text("clients x outstanding", func(c Column) string {
		return fmt.Sprintf("%d x %d", c.Result.Spec.Clients, c.Result.Spec.Outstanding)
	})
	text("measured", func(c Column) string { return c.Result.Measured.Round(1e6).String() })
	num("throughput mean (ops/s)", func(s results.Summary) float64 { return s.Throughput.Mean }, ops)
	num("throughput stddev (ops/s)", func(s results.Summary) float64 { return s.Throughput.Stddev }, ops)
	msf := func(v float64) string {
		if v >= 100 {
			return fmt.Sprintf("%.0f", v)
		}
		return fmt.Sprintf("%.3g", v)
	}
	num("p50 (ms)", func(s results.Summary) float64 { return s.All.P50.Seconds() * 1000 }, msf)
	num("p99 (ms)", func(s results.Summary) float64 { return s.All.P99.Seconds() * 1000 }, msf)
	num("p99.9 (ms)", func(s results.Summary) float64 { return s.All.P999.Seconds() * 1000 }, msf)
	num("max (ms)", func(s results.Summary) float64 { return s.All.Max.Seconds() * 1000 }, msf)
	num("errors", func(s results.Summary) float64 { return float64(s.Errors) }, func(v float64) string { return fmt.Sprintf("%.0f", v) })
	num("driver CPU s / 10k ops", func(s results.Summary) float64 { return s.CPUPer10kOps }, func(v float64) string { return fmt.Sprintf("%.3g", v) })
	text("launch", func(c Column) string { return orDash(c.Result.Ensemble.Launch) })
	compareServers(&b, cols)
	writeGraphs(&b, graphs)
	_, err := io.WriteString(w, b.String())
	return err
}
