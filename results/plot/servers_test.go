package plot

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/synth"
	"github.com/zkbench/zkbench/results"
)

// serversRun is a synthetic 10 s run with a 3-server series: server 1
// leads until 5 s, then server 3; server 2's disk fills at 4 s; fsyncs take
// 1 ms, 5 ms in the fifth second.
func serversRun() *results.Result {
	r := synth.Result(synth.Options{Duration: 10 * time.Second})
	nan := math.NaN()
	fsyncMs := map[int64]float64{}
	var samples []results.ServerSample
	for i := 0; i <= 10; i++ {
		for id := int64(1); id <= 3; id++ {
			role := "follower"
			if id == 1 && i < 5 || id == 3 && i >= 5 {
				role = "leader"
			}
			per := 1.0
			if i == 5 {
				per = 5
			}
			if i > 0 {
				fsyncMs[id] += 100 * per
			}
			samples = append(samples, results.ServerSample{At: time.Duration(i) * time.Second, ID: id, Role: role, Up: true, PID: int(id),
				Outstanding: float64(i * int(id)), AvgLatencyMs: nan, MaxLatencyMs: nan, FsyncCount: float64(100 * i), FsyncMs: fsyncMs[id],
				Znodes: nan, Connections: nan, Sessions: nan, CPUSeconds: float64(i), RSSKiB: 1000})
		}
	}
	r.Servers = &results.Servers{Interval: time.Second, Samples: samples,
		Problems: []results.ServerProblem{{At: 4 * time.Second, ID: 2, Kind: results.ProblemDiskFull, Disk: "/mnt/log", Detail: "no space left on device"}}}
	return r
}

func TestServerPanels(t *testing.T) {
	r := serversRun()
	ps, err := ServerPanels(Run{Label: "go", Result: r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 {
		t.Fatalf("%d panels, want throughput, outstanding and fsync", len(ps))
	}
	if ps[0].Y.Min >= 0 {
		t.Errorf("the throughput graph leaves no room for the leader lane (y from %v)", ps[0].Y.Min)
	}
	svg, err := EncodeStack(ps, "svg")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"leader 1", "leader 3", "disk full: server 2", "Mean fsync time per server", "Outstanding requests per server", "server 3"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("the stacked graph does not show %q", want)
		}
	}
	b, err := EncodeStack(ps, "png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if h, w := img.Bounds().Dy(), img.Bounds().Dx(); h <= w {
		t.Errorf("stack of 3 is %dx%d: want taller than wide", w, h)
	}
	if dir := os.Getenv("PLOT_OUT"); dir != "" {
		if _, err := SaveStack(ps, filepath.Join(dir, "servers")); err != nil {
			t.Fatal(err)
		}
	}
	// Without fsync times, fsyncs per second.
	for i := range r.Servers.Samples {
		r.Servers.Samples[i].FsyncMs = math.NaN()
	}
	p, err := Fsync(r, Options{})
	if err != nil || p == nil || !strings.Contains(p.Title.Text, "Fsyncs per second") {
		t.Errorf("fsync graph without times: %v, %v", p, err)
	}
}
