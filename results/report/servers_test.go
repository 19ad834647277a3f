package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/synth"
	"github.com/zkbench/zkbench/results"
)

// withServers gives a synthetic 10 s run, whose throughput dips to 10 %
// over 6-7 s, the series of a 3-server ensemble: server 3 leads, fsyncing
// 200 ms of every second but 900 ms of the one in the dip; server 1 is
// down from 6 s to 7 s; server 2's queue is 300 at 7 s, 5 otherwise.
func withServers() *results.Result {
	r := synth.Result(synth.Options{Duration: 10 * time.Second, Dips: []synth.Dip{{At: 6 * time.Second, Len: time.Second, Fraction: 0.1}}})
	nan := math.NaN()
	var ss []results.ServerSample
	fsync := 0.0
	for i := 0; i <= 10; i++ {
		at := time.Duration(i) * time.Second
		for id := int64(1); id <= 3; id++ {
			s := results.ServerSample{At: at, ID: id, Role: "follower", Up: true, PID: int(id), Outstanding: 5, AvgLatencyMs: nan, MaxLatencyMs: nan,
				FsyncCount: float64(100 * i), FsyncMs: nan, Znodes: nan, Connections: nan, Sessions: nan, CPUSeconds: 0.5 * float64(i), RSSKiB: 100 << 10}
			switch id {
			case 1:
				if i == 6 {
					s = results.ServerSample{At: at, ID: 1, Role: "down", Outstanding: nan, AvgLatencyMs: nan, MaxLatencyMs: nan, FsyncCount: nan, FsyncMs: nan, Znodes: nan, Connections: nan, Sessions: nan, CPUSeconds: nan, RSSKiB: nan}
				} else if i > 6 {
					s.PID = 10
				}
			case 2:
				if i == 7 {
					s.Outstanding = 300
				}
			case 3:
				s.Role = "leader"
				s.FsyncMs = fsync
				if i == 6 {
					fsync += 900
				} else {
					fsync += 200
				}
			}
			ss = append(ss, s)
		}
	}
	r.Servers = &results.Servers{File: results.ServersCSVFile, Interval: time.Second, Samples: ss}
	return r
}

func TestServerNotes(t *testing.T) {
	r := withServers()
	notes := strings.Join(ServerNotes(r), "\n")
	for _, want := range []string{
		"leader: server 3 0.0-10.0 s",
		"server 3 (leader 100%): 27% of its time in fsync (1000 fsyncs, mean 2.70 ms); 0.50 cores",
		"server 2 (follower 100%): 1000 fsyncs (their time not reported)",
		"outstanding requests up to 300 (at 7.0 s)",
		"deepest dip 6-7 s",
		"server 1 went follower -> down -> follower",
		"server 3 spent 90% of it in fsync (27% over the run)",
		"server 2's queue reached 300",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	var b bytes.Buffer
	if err := Summary(&b, r, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "## Servers") || !strings.Contains(b.String(), "deepest dip 6-7 s") {
		t.Errorf("the summary does not explain the dip:\n%s", b.String())
	}
}

func TestCompareServers(t *testing.T) {
	a, b := withServers(), synth.Result(synth.Options{Duration: 10 * time.Second})
	var out bytes.Buffer
	if err := Compare(&out, []Column{{Label: "java", Result: a}, {Label: "go", Result: b}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| leader's time in fsync | 27% (server 3) | - |",
		"| servers' CPU (cores) | 1.50 | - |",
		"| largest queue (outstanding) | 300 | - |",
		"## Servers: java",
		"deepest dip 6-7 s",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("comparison lacks %q:\n%s", want, out.String())
		}
	}
}

// TestServerNotesUnsampled: a result whose servers were not sampled says
// nothing of them (not "no leader seen"), but still lists their problems.
func TestServerNotesUnsampled(t *testing.T) {
	r := synth.Result(synth.Options{Duration: 5 * time.Second})
	r.Servers = &results.Servers{File: results.ServersCSVFile}
	if n := ServerNotes(r); n != nil {
		t.Errorf("notes of an unsampled run: %q", n)
	}
	r.Servers.Problems = []results.ServerProblem{{At: time.Second, ID: 2, Kind: results.ProblemExit, Detail: "pid 7: exit status 1"}}
	if n := ServerNotes(r); len(n) != 1 || !strings.Contains(n[0], "server 2 exited on its own: pid 7: exit status 1") {
		t.Errorf("notes: %q", n)
	}
}
