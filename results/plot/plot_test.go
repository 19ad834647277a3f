package plot

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/synth"
	"github.com/zkbench/zkbench/results"
)

func reliability() *results.Result {
	ev := func(at time.Duration, name, detail string) results.Event {
		return results.Event{At: at, Name: name, Detail: detail}
	}
	return synth.Result(synth.Options{
		Servers: 7, ReadPercent: 70, Duration: 30 * time.Second, Throughput: 40000, Seed: 1,
		Events: []results.Event{
			ev(-time.Second, "load", "warm-up"),
			ev(3*time.Second, "kill", "1: kill server 2 (follower)"),
			ev(5*time.Second, "restart", "1: restart server 2"),
			ev(12*time.Second, "kill", "3: kill server 7 (leader)"),
			ev(18*time.Second, "kill", "4: kill server 3 (follower)"),
			ev(18*time.Second, "kill", "4: kill server 4 (follower)"),
			ev(20*time.Second, "restart", "4: restart server 3"),
		},
		Dips: []synth.Dip{{At: 12 * time.Second, Len: 300 * time.Millisecond, Fraction: 0.5}, {At: 18 * time.Second, Len: 2 * time.Second, Fraction: 0.8}},
	})
}

func TestBucketsSumOps(t *testing.T) {
	r := reliability()
	var total int64
	for _, iv := range r.Series {
		total += iv.Ops
	}
	b := time.Second
	var sum float64
	xys := Buckets(r, b)
	for _, xy := range xys {
		sum += xy.Y * b.Seconds()
	}
	if len(xys) != 30 {
		t.Fatalf("%d buckets of 1s over 30s, want 30", len(xys))
	}
	if d := sum - float64(total); d > 1 || d < -1 {
		t.Errorf("buckets hold %.0f ops, series %d", sum, total)
	}
	// The dip at 12 s shows in its bucket.
	if xys[12].Y >= xys[11].Y*0.95 {
		t.Errorf("bucket at 12s (%.0f) does not show the dip against 11s (%.0f)", xys[12].Y, xys[11].Y)
	}
	if got := AutoBucket(r); got != 500*time.Millisecond {
		t.Errorf("AutoBucket(30s) = %v, want 500ms (60 points)", got)
	}
}

func TestEventNumber(t *testing.T) {
	for detail, want := range map[string]string{"3: kill server 5": "3", "kill server 5": "", "x: y": "", "12:": "12"} {
		if got := EventNumber(results.Event{Detail: detail}); got != want {
			t.Errorf("EventNumber(%q) = %q, want %q", detail, got, want)
		}
	}
}

func TestGraphsRender(t *testing.T) {
	r := reliability()
	java := synth.Result(synth.Options{Impl: "java", Servers: 7, ReadPercent: 70, Duration: 30 * time.Second, Throughput: 30000, Latency: 3 * time.Millisecond, Seed: 2})
	var sweep []*results.Result
	for _, n := range []int{3, 5} {
		for _, pct := range []float64{0, 50, 100} {
			sweep = append(sweep, synth.Result(synth.Options{Servers: n, ReadPercent: pct, Duration: time.Second, Throughput: 1000 + 100*pct*float64(n), Seed: uint64(n)}))
		}
	}
	dir := t.TempDir()
	type mk func() ([]string, error)
	for name, f := range map[string]mk{
		"throughput": func() ([]string, error) {
			p, err := Throughput([]Run{{"go", r}}, Options{})
			if err != nil {
				return nil, err
			}
			return Save(p, filepath.Join(dir, "throughput"))
		},
		"overlay": func() ([]string, error) {
			p, err := Throughput([]Run{{"go", r}, {"java", java}}, Options{})
			if err != nil {
				return nil, err
			}
			return Save(p, filepath.Join(dir, "overlay"))
		},
		"readratio": func() ([]string, error) {
			p, err := ReadRatio(sweep, Options{})
			if err != nil {
				return nil, err
			}
			return Save(p, filepath.Join(dir, "readratio"))
		},
		"spectrum": func() ([]string, error) {
			p, err := LatencySpectrum([]Run{{"go", r}, {"java", java}}, Options{})
			if err != nil {
				return nil, err
			}
			return Save(p, filepath.Join(dir, "spectrum"))
		},
		"latency": func() ([]string, error) {
			p, err := LatencyOverTime([]Run{{"go", r}}, Options{})
			if err != nil {
				return nil, err
			}
			return Save(p, filepath.Join(dir, "latency"))
		},
	} {
		paths, err := f()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(paths) != 2 {
			t.Fatalf("%s: wrote %v, want a PNG and an SVG", name, paths)
		}
		png, _ := os.ReadFile(paths[0])
		svg, _ := os.ReadFile(paths[1])
		if !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("%s: %s is not a PNG", name, paths[0])
		}
		if !strings.Contains(string(svg), "<svg") || !strings.Contains(string(svg), "ops/s") && !strings.Contains(string(svg), "ms") {
			t.Errorf("%s: %s lacks an SVG root or unit label", name, paths[1])
		}
	}
	if out := os.Getenv("ZKBENCH_PLOT_OUT"); out != "" {
		for _, n := range []string{"throughput", "overlay", "readratio", "spectrum", "latency"} {
			b, _ := os.ReadFile(filepath.Join(dir, n+".png"))
			_ = os.WriteFile(filepath.Join(out, n+".png"), b, 0o644)
		}
	}
}

func TestMissingDataIsAnError(t *testing.T) {
	r := reliability()
	r.Latency = nil
	if _, err := LatencySpectrum([]Run{{"bare", r}}, Options{}); err == nil || !strings.Contains(err.Error(), "latency.hlog") {
		t.Errorf("spectrum without histograms: err = %v, want one naming latency.hlog", err)
	}
	r.Series = nil
	if _, err := Throughput([]Run{{"bare", r}}, Options{}); err == nil || !strings.Contains(err.Error(), "time series") {
		t.Errorf("throughput without series: err = %v", err)
	}
	if _, err := ReadRatio(nil, Options{}); err == nil {
		t.Error("ReadRatio(nil): no error")
	}
}
