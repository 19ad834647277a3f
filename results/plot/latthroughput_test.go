package plot

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/synth"
	"github.com/zkbench/zkbench/results"
)

// openSweep is a synthetic sweep --rates of one implementation: latency
// climbing as the offered rate nears saturation.
func openSweep(impl string, rates []float64, base time.Duration) []*results.Result {
	var out []*results.Result
	for i, rate := range rates {
		r := synth.Result(synth.Options{Impl: impl, Servers: 3, ReadPercent: 70, Duration: 2 * time.Second, Throughput: rate,
			Latency: base * time.Duration(1+i*i), Seed: uint64(i + 1)})
		r.Spec.Mode, r.Spec.Rate = "open", rate
		out = append(out, r)
	}
	return out
}

func TestLatencyThroughputOneLinePerImplementationAndQuantile(t *testing.T) {
	rs := append(openSweep("go", []float64{4000, 2000, 8000}, time.Millisecond), openSweep("java", []float64{2000, 4000}, 3*time.Millisecond)...)
	closed := synth.Result(synth.Options{Impl: "go", Servers: 3, ReadPercent: 70, Throughput: 20000, Seed: 9}) // saturation: not on the curve
	rs = append(rs, closed)
	curves := LatencyCurves(rs)
	if len(curves) != 2 {
		t.Fatalf("%d curves, want go and java: %+v", len(curves), curves)
	}
	g := curves[0]
	if g.Label != "go" || len(g.Points) != 3 {
		t.Fatalf("first curve %q with %d points, want go with its 3 open-loop runs", g.Label, len(g.Points))
	}
	for i := 1; i < len(g.Points); i++ {
		if g.Points[i].Offered <= g.Points[i-1].Offered {
			t.Errorf("go's points not in order of offered rate: %+v", g.Points)
		}
	}
	for _, pt := range g.Points {
		if !(pt.P50 <= pt.P99 && pt.P99 <= pt.P999) || pt.Achieved <= 0 {
			t.Errorf("point %+v: quantiles out of order or no throughput", pt)
		}
	}
	p, err := LatencyThroughput(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	svg, err := Encode(p, "svg")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"go p50", "go p99", "go p99.9", "java p99.9", "achieved throughput (ops/s)"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("graph lacks %q", want)
		}
	}
}

func TestLatencyThroughputLabelsSizesAndReads(t *testing.T) {
	rs := openSweep("go", []float64{1000, 2000}, time.Millisecond)
	more := openSweep("go", []float64{1000, 2000}, time.Millisecond)
	for _, r := range more {
		r.Ensemble.Size = 5
	}
	curves := LatencyCurves(append(rs, more...))
	if len(curves) != 2 || curves[0].Label != "go, 3 servers" || curves[1].Label != "go, 5 servers" {
		t.Errorf("curves %+v, want go at 3 and 5 servers", curves)
	}
}

func TestLatencyThroughputNeedsOpenLoop(t *testing.T) {
	closed := synth.Result(synth.Options{Seed: 1})
	if _, err := LatencyThroughput([]*results.Result{closed}, Options{}); !errors.Is(err, ErrNoOpenLoop) {
		t.Errorf("closed-loop runs only: %v, want ErrNoOpenLoop", err)
	}
}

// TestLatencyCurvesSkipRunsWithoutOperations: an open-loop run that
// completed no operation in its measured part (an implementation so far
// behind that every reply went to an operation scheduled before it) has
// no latency to draw; it is left off the curve rather than drawn at zero.
func TestLatencyCurvesSkipRunsWithoutOperations(t *testing.T) {
	rs := openSweep("java", []float64{2000, 4000}, time.Millisecond)
	none := openSweep("java", []float64{13000}, time.Millisecond)[0]
	none.Ops = map[string]*results.OpStats{}
	for i, iv := range none.Series {
		none.Series[i] = results.Interval{Start: iv.Start, Len: iv.Len}
	}
	if s := results.Summarize(none); s.All.Count != 0 {
		t.Fatalf("the synthetic run completed %d operations, want none", s.All.Count)
	}
	curves := LatencyCurves(append(rs, none))
	if len(curves) != 1 || len(curves[0].Points) != 2 {
		t.Fatalf("curves %+v, want java's two runs with operations", curves)
	}
	for _, pt := range curves[0].Points {
		if pt.Offered == 13000 {
			t.Errorf("the run without operations is on the curve: %+v", pt)
		}
	}
}
