package plot

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/synth"
	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/results/trend"
)

func TestTrendRenders(t *testing.T) {
	var rs []*results.Result
	for i := range 20 {
		tp := 10000.0
		if i >= 10 {
			tp = 8000
		}
		r := synth.Result(synth.Options{Throughput: tp, Duration: 2 * time.Second, Seed: uint64(i), Start: time.Date(2026, 1, 1, i, 0, 0, 0, time.UTC)})
		r.Build.Revision = strings.Repeat(string(rune('a'+i)), 40)
		rs = append(rs, r)
	}
	s := trend.Analyze(rs, trend.Options{})[0]
	if len(s.Metric(trend.Throughput).Changes) != 1 {
		t.Fatalf("changes: %+v", s.Metric(trend.Throughput))
	}
	p, err := Trend(s, trend.Throughput)
	if err != nil {
		t.Fatal(err)
	}
	svg, err := Encode(p, "svg")
	if err != nil {
		t.Fatal(err)
	}
	// The change point's label: the step and the first commit after it.
	if !bytes.Contains(svg, []byte("-20.")) || !bytes.Contains(svg, []byte("kkkkkkkk")) {
		t.Errorf("the SVG lacks the change point's label")
	}
	if _, err := Trend(s, "no such metric"); err == nil {
		t.Error("a missing metric is no error")
	}
}
