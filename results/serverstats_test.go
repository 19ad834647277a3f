package results

import (
	"math"
	"testing"
	"time"
)

// serverRun is a 4 s result whose server 1 leads, fsyncing 400 ms of every
// second, until it is killed at 2.5 s, after which server 2 leads and
// fsyncs 100 ms a second; server 2 uses half a core throughout.
func serverRun() *Result {
	r := &Result{Measured: 4 * time.Second, Interval: 100 * time.Millisecond}
	nan := math.NaN()
	s := func(at time.Duration, id int64, role string, pid int, fsyncs, fsyncMs, cpu, out float64) ServerSample {
		return ServerSample{At: at, ID: id, Role: role, Up: pid > 0, PID: pid, Outstanding: out, AvgLatencyMs: nan, MaxLatencyMs: nan,
			FsyncCount: fsyncs, FsyncMs: fsyncMs, Znodes: nan, Connections: nan, Sessions: nan, CPUSeconds: cpu, RSSKiB: 1000 * float64(id)}
	}
	var ss []ServerSample
	for i := 0; i <= 4; i++ {
		at := time.Duration(i) * time.Second
		if i <= 2 {
			ss = append(ss, s(at, 1, "leader", 11, float64(100*i), float64(400*i), 0, 5))
		} else {
			ss = append(ss, s(at, 1, "down", 0, nan, nan, nan, nan))
		}
		role := "follower"
		if i >= 3 {
			role = "leader"
		}
		ss = append(ss, s(at, 2, role, 22, float64(50*i), float64(100*i), 0.5*float64(i), float64(10*i)))
	}
	r.Servers = &Servers{Interval: time.Second, Samples: ss}
	return r
}

func TestServerFigures(t *testing.T) {
	fs := ServerFiguresOf(serverRun())
	if len(fs) != 2 {
		t.Fatalf("figures of %d servers", len(fs))
	}
	one, two := fs[0], fs[1]
	if one.ID != 1 || one.MainRole != "leader" || math.Abs(one.FsyncShare-0.4) > 1e-9 || math.Abs(one.LeaderFsyncShare-0.4) > 1e-9 || one.Fsyncs != 200 {
		t.Errorf("server 1: %+v, want leader, 40%% in fsync, 200 fsyncs", one)
	}
	// A role lasts from its sample to the next one.
	if one.Roles["leader"] != 3*time.Second || one.Roles["down"] != time.Second {
		t.Errorf("server 1 roles %v, want 3 s leader, 1 s down", one.Roles)
	}
	if math.Abs(two.FsyncShare-0.1) > 1e-9 || math.Abs(two.CPUCores-0.5) > 1e-9 || two.PeakOutstanding != 40 || two.PeakOutstandingAt != 4*time.Second || two.PeakRSSKiB != 2000 {
		t.Errorf("server 2: %+v", two)
	}
	if math.Abs(two.LeaderFsyncShare-0.1) > 1e-9 || two.Roles["leader"] != time.Second {
		t.Errorf("server 2 as leader: fsync share %v, led %v", two.LeaderFsyncShare, two.Roles["leader"])
	}
	ls := Leaders(serverRun())
	if len(ls) != 2 || ls[0] != (LeaderSpan{ID: 1, From: 0, To: 3 * time.Second}) || ls[1] != (LeaderSpan{ID: 2, From: 3 * time.Second, To: 5 * time.Second}) {
		t.Errorf("leaders %+v", ls)
	}
}
