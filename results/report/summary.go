package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/zkbench/zkbench/results"
)

// Graph is a rendered graph to reference or embed.
type Graph struct {
	// Title is its caption.
	Title string
	// File is the PNG's name relative to the report (Markdown links to it).
	File string
	// PNG is the image itself (HTML embeds it); may be nil for Markdown.
	PNG []byte
}

// Describe names what a result measured: "go, 3 servers, 30% writes,
// 60 clients x 100 outstanding, 1024 B values, 10s".
func Describe(r *results.Result) string {
	return fmt.Sprintf("%s, %s, %s writes, %d clients x %d outstanding, %d B values, %v",
		r.Ensemble.Label(), servers(r.Ensemble.Size), pct(r.Spec.WritePercent()),
		r.Spec.Clients, r.Spec.Outstanding, r.Spec.ValueSize, r.Measured.Round(time.Millisecond))
}

func servers(n int) string {
	if n == 1 {
		return "1 server"
	}
	return fmt.Sprintf("%d servers", n)
}

func pct(p float64) string { return fmt.Sprintf("%g%%", p) }

// ms formats a duration in milliseconds with three significant figures.
func ms(d time.Duration) string {
	v := d.Seconds() * 1000
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// ops formats a rate compactly: 980, 12.3k, 1.25M.
func ops(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// Summary writes a Markdown summary of one run: what ran, headline numbers,
// latency per operation type, events, warnings and graphs.
func Summary(w io.Writer, r *results.Result, graphs []Graph) error {
	s := results.Summarize(r)
	var b strings.Builder
	fmt.Fprintf(&b, "# zkbench run: %s\n\n", Describe(r))
	fmt.Fprintf(&b, "Started %s; stopped by %s; seed %d; workload %q.\n\n", r.Start.UTC().Format(time.RFC3339), r.Stop, r.Spec.Seed, r.Spec.Name)
	fmt.Fprintf(&b, "| metric | value |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| throughput (ops/s) | %s mean, %s median, %s..%s over %d intervals |\n", ops(s.Throughput.Mean), ops(s.Throughput.Median), ops(s.Throughput.Min), ops(s.Throughput.Max), s.Throughput.N)
	fmt.Fprintf(&b, "| operations | %d ok, %d failed (%.3g%%), completed inside the measured part |\n", s.Ops, s.Errors, 100*s.ErrorRate)
	if r.Driver.Unfinished > 0 {
		fmt.Fprintf(&b, "| unfinished | %d of the operations scheduled in the measured part had not completed when the run ended: the schedule fell behind, and their latency is missing |\n", r.Driver.Unfinished)
	}
	fmt.Fprintf(&b, "| latency (ms) | p50 %s, p99 %s, p99.9 %s, max %s |\n", ms(s.All.P50), ms(s.All.P99), ms(s.All.P999), ms(s.All.Max))
	fmt.Fprintf(&b, "| driver CPU | %.2f s per 10k ops, %.2f cores |\n", s.CPUPer10kOps, r.Driver.CPUCores)
	if r.Driver.MachineBusy >= 0 {
		fmt.Fprintf(&b, "| machine busy | %.0f%% |\n", 100*r.Driver.MachineBusy)
	}
	b.WriteString(warmupRow(r))
	b.WriteString("\n| operation | count | p50 ms | p99 ms | p99.9 ms | max ms | errors |\n| --- | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, name := range r.OpNames() {
		st := r.Ops[name]
		l := st.Latency
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s |\n", name, st.Count, ms(l.P50), ms(l.P99), ms(l.P999), ms(l.Max), errorList(st.Errors))
	}
	if fs := FaultSummary(r); len(fs) > 0 {
		b.WriteString("\n## Faults\n\n")
		for _, f := range fs {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	writeSafety(&b, r.Safety)
	if len(r.Events) > 0 {
		b.WriteString("\n## Events\n\n| at (s) | event | detail |\n| ---: | --- | --- |\n")
		for _, ev := range r.Events {
			fmt.Fprintf(&b, "| %.2f | %s | %s |\n", ev.At.Seconds(), ev.Name, ev.Detail)
		}
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\n## Warnings\n\n")
		for _, w := range r.Warnings {
			fmt.Fprintf(&b, "- %s\n", w)
		}
	}
	if notes := ServerNotes(r); len(notes) > 0 {
		b.WriteString("\n## Servers\n\nFrom the servers' own figures (servers.csv, every " + r.Servers.Interval.String() + "), their logs and their processes:\n\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	b.WriteString("\n## Ensemble\n\n")
	for _, m := range r.Ensemble.Members {
		fmt.Fprintf(&b, "- server %d at %s: %s, %d clients\n", m.ID, m.Addr, orDash(m.Role), m.Clients)
	}
	if r.Ensemble.Launch != "" {
		fmt.Fprintf(&b, "- launched as: %s\n", r.Ensemble.Launch)
	}
	writeGraphs(&b, graphs)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeGraphs(b *strings.Builder, graphs []Graph) {
	if len(graphs) == 0 {
		return
	}
	b.WriteString("\n## Graphs\n\n")
	for _, g := range graphs {
		fmt.Fprintf(b, "![%s](%s)\n\n", g.Title, g.File)
	}
}

func errorList(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// warmupRow is the summary's row on the warm-up: fixed, or automatic and
// how long it took to steady, loudly when it never did.
func warmupRow(r *results.Result) string {
	w := r.Warmup
	switch {
	case w == nil:
		return fmt.Sprintf("| warm-up | %v, fixed |\n", r.Spec.Warmup)
	case w.Settled:
		return fmt.Sprintf("| warm-up | %v, until steady (CV %.1f%%, drift %.1f%%) |\n", w.Took.Round(100*time.Millisecond), 100*w.CV, 100*w.Drift)
	default:
		return fmt.Sprintf("| warm-up | **%v, never steady** (CV %.1f%%, drift %.1f%%): the measured part may hold a climb |\n", w.Took.Round(100*time.Millisecond), 100*w.CV, 100*w.Drift)
	}
}
