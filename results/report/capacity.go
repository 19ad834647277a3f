package report

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/zkbench/zkbench/results"
)

// CapacityOptions set the question a capacity plan answers.
type CapacityOptions struct {
	// P99 is the latency target: a load counts only if its p99 stays at
	// or under it (default 10 ms).
	P99 time.Duration `json:"p99_ns"`
	// Load is the throughput (ops/s) to serve; zero skips the question
	// "which is the smallest ensemble that serves it".
	Load float64 `json:"load"`
	// ReadPercent is the read share of Load.
	ReadPercent float64 `json:"read_percent"`
}

// Point is one measured (throughput, p99) pair. P99 is zero when the run
// measured no latency: an open loop so far behind that none of the
// operations scheduled in its measured part completed; such a point meets
// no latency target.
type Point struct {
	Throughput float64       `json:"throughput"`
	P99        time.Duration `json:"p99_ns"`
	Dir        string        `json:"dir,omitempty"` // where it came from, if known
}

// Cell is the capacity of one implementation, ensemble size and read share.
type Cell struct {
	Impl        string  `json:"impl"`
	Servers     int     `json:"servers"`
	ReadPercent float64 `json:"read_percent"`
	// Capacity is the highest throughput among Points whose p99 met the
	// target; zero when none did.
	Capacity float64 `json:"capacity"`
	// P99 is the p99 latency at Capacity (or the lowest p99 seen, when
	// no point met the target).
	P99    time.Duration `json:"p99_ns"`
	Points []Point       `json:"points"`
}

// Met reports whether any measured load met the target.
func (c Cell) Met() bool { return c.Capacity > 0 }

// Plan is a capacity plan.
type Plan struct {
	Options CapacityOptions `json:"options"`
	Cells   []Cell          `json:"cells"` // sorted by implementation, size, read share
	// Smallest answers the Load question per implementation: the smallest
	// ensemble size whose capacity at ReadPercent (interpolated between
	// measured read shares) reaches Load; 0 if none measured does.
	Smallest map[string]int `json:"smallest,omitempty"`
	// At is the capacity of Smallest at ReadPercent.
	At map[string]float64 `json:"at,omitempty"`
}

// Capacity builds a plan from results, each a (throughput, p99) point of an
// implementation, ensemble size and read share; dirs, if not nil, names
// where each came from.
func Capacity(rs []*results.Result, dirs []string, o CapacityOptions) (Plan, error) {
	if len(rs) == 0 {
		return Plan{}, fmt.Errorf("report: capacity: no results")
	}
	if o.P99 <= 0 {
		o.P99 = 10 * time.Millisecond
	}
	if o.ReadPercent < 0 || o.ReadPercent > 100 {
		return Plan{}, fmt.Errorf("report: capacity: read share %g%%: want 0..100", o.ReadPercent)
	}
	type key struct {
		impl    string
		servers int
		reads   float64
	}
	cells := map[key]*Cell{}
	for i, r := range rs {
		k := key{r.Ensemble.Implementation, r.Ensemble.Size, r.Spec.ReadPercent}
		c := cells[k]
		if c == nil {
			c = &Cell{Impl: k.impl, Servers: k.servers, ReadPercent: k.reads}
			cells[k] = c
		}
		s := results.Summarize(r)
		p := Point{Throughput: s.Throughput.Mean, P99: s.All.P99}
		if dirs != nil {
			p.Dir = dirs[i]
		}
		c.Points = append(c.Points, p)
	}
	plan := Plan{Options: o, Smallest: map[string]int{}, At: map[string]float64{}}
	for _, c := range cells {
		for _, p := range c.Points {
			if p.P99 > 0 && p.P99 <= o.P99 && p.Throughput > c.Capacity {
				c.Capacity, c.P99 = p.Throughput, p.P99
			}
		}
		if !c.Met() {
			for _, p := range c.Points {
				if p.P99 > 0 && (c.P99 == 0 || p.P99 < c.P99) {
					c.P99 = p.P99
				}
			}
		}
		plan.Cells = append(plan.Cells, *c)
	}
	sort.Slice(plan.Cells, func(i, j int) bool {
		a, b := plan.Cells[i], plan.Cells[j]
		if a.Impl != b.Impl {
			return a.Impl < b.Impl
		}
		if a.Servers != b.Servers {
			return a.Servers < b.Servers
		}
		return a.ReadPercent < b.ReadPercent
	})
	if o.Load > 0 {
		for _, impl := range plan.impls() {
			for _, n := range plan.sizes(impl) {
				if c, ok := plan.CapacityAt(impl, n, o.ReadPercent); ok && c >= o.Load {
					plan.Smallest[impl], plan.At[impl] = n, c
					break
				}
			}
		}
	}
	return plan, nil
}

// CapacityAt interpolates the capacity of impl with n servers at the given
// read share between the nearest measured shares; ok is false when the
// share lies outside those measured.
func (p Plan) CapacityAt(impl string, n int, reads float64) (float64, bool) {
	var lo, hi *Cell
	for i := range p.Cells {
		c := &p.Cells[i]
		if c.Impl != impl || c.Servers != n {
			continue
		}
		if c.ReadPercent <= reads && (lo == nil || c.ReadPercent > lo.ReadPercent) {
			lo = c
		}
		if c.ReadPercent >= reads && (hi == nil || c.ReadPercent < hi.ReadPercent) {
			hi = c
		}
	}
	switch {
	case lo == nil || hi == nil:
		return 0, false
	case lo.ReadPercent == hi.ReadPercent:
		return lo.Capacity, true
	}
	f := (reads - lo.ReadPercent) / (hi.ReadPercent - lo.ReadPercent)
	return lo.Capacity + f*(hi.Capacity-lo.Capacity), true
}

func (p Plan) impls() []string {
	var out []string
	for _, c := range p.Cells {
		if len(out) == 0 || out[len(out)-1] != c.Impl {
			out = append(out, c.Impl)
		}
	}
	return out
}

func (p Plan) sizes(impl string) []int {
	var out []int
	for _, c := range p.Cells {
		if c.Impl == impl && (len(out) == 0 || out[len(out)-1] != c.Servers) {
			out = append(out, c.Servers)
		}
	}
	return out
}

func (p Plan) reads(impl string) []float64 {
	seen := map[float64]bool{}
	var out []float64
	for _, c := range p.Cells {
		if c.Impl == impl && !seen[c.ReadPercent] {
			seen[c.ReadPercent] = true
			out = append(out, c.ReadPercent)
		}
	}
	sort.Float64s(out)
	return out
}

func (p Plan) cell(impl string, n int, reads float64) (Cell, bool) {
	for _, c := range p.Cells {
		if c.Impl == impl && c.Servers == n && c.ReadPercent == reads {
			return c, true
		}
	}
	return Cell{}, false
}

// table is the plan as rows of strings: one table per implementation, a row
// per size, a column per read share.
type table struct {
	Impl string
	Head []string
	Rows [][]string
}

func (p Plan) tables() []table {
	var out []table
	for _, impl := range p.impls() {
		t := table{Impl: impl, Head: []string{"servers"}}
		reads := p.reads(impl)
		for _, r := range reads {
			t.Head = append(t.Head, pct(r)+" reads")
		}
		for _, n := range p.sizes(impl) {
			row := []string{fmt.Sprint(n)}
			for _, r := range reads {
				c, ok := p.cell(impl, n, r)
				switch {
				case !ok:
					row = append(row, "")
				case c.Met():
					row = append(row, fmt.Sprintf("%s (p99 %s ms)", ops(c.Capacity), ms(c.P99)))
				default:
					row = append(row, fmt.Sprintf("— (p99 ≥ %s ms)", ms(c.P99)))
				}
			}
			t.Rows = append(t.Rows, row)
		}
		out = append(out, t)
	}
	return out
}

func (p Plan) answers() []string {
	if p.Options.Load <= 0 {
		return nil
	}
	var out []string
	for _, impl := range p.impls() {
		if n, ok := p.Smallest[impl]; ok {
			verb := "serve"
			if n == 1 {
				verb = "serves"
			}
			out = append(out, fmt.Sprintf("%s: %s %s %s ops/s at %s reads with p99 ≤ %s ms (capacity there %s ops/s).",
				impl, servers(n), verb, ops(p.Options.Load), pct(p.Options.ReadPercent), ms(p.Options.P99), ops(p.At[impl])))
		} else {
			out = append(out, fmt.Sprintf("%s: no measured ensemble serves %s ops/s at %s reads with p99 ≤ %s ms.",
				impl, ops(p.Options.Load), pct(p.Options.ReadPercent), ms(p.Options.P99)))
		}
	}
	return out
}

const method = "Each cell is the highest mean throughput among the runs of that implementation, size and read share whose whole-run p99 latency met the target; \"—\" means no run met it (the lowest p99 seen is shown). Closed-loop runs at saturation queue requests in the clients, so their p99 grows with the load: to find the knee, sweep open-loop rates (zkbench sweep --rates)."

// Markdown writes the plan as Markdown, linking to graphs by file name.
func (p Plan) Markdown(w io.Writer, graphs []Graph) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# zkbench capacity plan\n\nLatency target: p99 ≤ %s ms.\n\n", ms(p.Options.P99))
	for _, a := range p.answers() {
		fmt.Fprintf(&b, "**%s**\n\n", a)
	}
	for _, t := range p.tables() {
		fmt.Fprintf(&b, "## %s: highest throughput (ops/s) with p99 ≤ %s ms\n\n", t.Impl, ms(p.Options.P99))
		b.WriteString("| " + strings.Join(t.Head, " | ") + " |\n|" + strings.Repeat(" ---: |", len(t.Head)) + "\n")
		for _, r := range t.Rows {
			b.WriteString("| " + strings.Join(r, " | ") + " |\n")
		}
		b.WriteString("\n")
	}
	b.WriteString(method + "\n")
	writeGraphs(&b, graphs)
	_, err := io.WriteString(w, b.String())
	return err
}

var htmlPage = template.Must(template.New("plan").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>zkbench capacity plan</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f4f4f4}p.answer{font-weight:bold}img{max-width:100%}figcaption{color:#555}
</style></head><body>
<h1>zkbench capacity plan</h1>
<p>Latency target: p99 ≤ {{.Target}} ms.</p>
{{range .Answers}}<p class="answer">{{.}}</p>
{{end}}{{range .Tables}}<h2>{{.Impl}}: highest throughput (ops/s) with p99 ≤ {{$.Target}} ms</h2>
<table><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{end}}<p>{{.Method}}</p>
{{range .Graphs}}<figure><img alt="{{.Title}}" src="{{.Src}}"><figcaption>{{.Title}}</figcaption></figure>
{{end}}</body></html>
`))

// HTML writes the plan as one self-contained HTML page, its graphs
// embedded as PNG data URIs.
func (p Plan) HTML(w io.Writer, graphs []Graph) error {
	type img struct {
		Title string
		Src   template.URL
	}
	var imgs []img
	for _, g := range graphs {
		if g.PNG == nil {
			return fmt.Errorf("report: capacity HTML: graph %q has no PNG to embed", g.Title)
		}
		imgs = append(imgs, img{g.Title, template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(g.PNG))})
	}
	err := htmlPage.Execute(w, map[string]any{
		"Target": ms(p.Options.P99), "Answers": p.answers(), "Tables": p.tables(), "Method": method, "Graphs": imgs,
	})
	if err != nil {
		return fmt.Errorf("report: capacity HTML: %w", err)
	}
	return nil
}
