package harness

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// bigTests gates the slow tests (7-server ensembles, long schedules):
// HARNESS_BIG=1 go test ./harness/ -run Big -v
func bigTests(t *testing.T) {
	if os.Getenv("HARNESS_BIG") == "" {
		t.Skip("slow: set HARNESS_BIG=1 to run the 7-server and random-schedule tests")
	}
}

// TestIntegration_BigPaper plays the paper schedule on 3 and 7 servers of
// each implementation under a small write load and logs the election and
// recovery times the harness measured.
func TestIntegration_BigPaper(t *testing.T) {
	bigTests(t)
	d := 40 * time.Second
	if s := os.Getenv("HARNESS_BIG_SECONDS"); s != "" {
		n, _ := strconv.Atoi(s)
		d = time.Duration(n) * time.Second
	}
	for _, impl := range impls(t) {
		for _, n := range []int{3, 7} {
			t.Run(impl+"/"+strconv.Itoa(n), func(t *testing.T) {
				ctx := testCtx(t, 5*time.Minute)
				e := startEnsemble(t, ctx, Options{Impl: impl, Servers: n, Seed: 1, TickTime: 2000})
				stop := writers(t, e.ConnectString(), 8)
				evs, err := e.RunSchedule(ctx, PaperSchedule(d), nil)
				writes, _ := stop()
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range evs {
					t.Logf("event %s: %v", ev.Step.Note, ev)
					if ev.Skipped || ev.Err != "" {
						t.Errorf("event %s did not apply: %v", ev.Step.Note, ev)
					}
					if !ev.Recovered {
						t.Errorf("event %s never recovered", ev.Step.Note)
					}
					if ev.LeaderLost && !ev.Elected {
						t.Errorf("event %s: no new leader seen", ev.Step.Note)
					}
				}
				for _, st := range e.Stats() {
					t.Logf("server %d: %d processes, %.2f CPU s, peak RSS %d MiB", st.ID, len(st.PIDs), st.CPUSeconds, st.PeakRSSKiB/1024)
				}
				t.Logf("%d writes by the load clients; %d mntr snapshots; %d role changes", writes, len(e.MntrSnapshots()), len(e.Timeline()))
			})
		}
	}
}

// TestIntegration_BigRandom plays seeded random schedules with every fault
// kind on 5 servers and checks that the ensemble always recovers (the
// schedule never takes more than a minority).
func TestIntegration_BigRandom(t *testing.T) {
	bigTests(t)
	for _, impl := range impls(t) {
		t.Run(impl, func(t *testing.T) {
			ctx := testCtx(t, 5*time.Minute)
			e := startEnsemble(t, ctx, Options{Impl: impl, Servers: 5, PeerProxy: true, SyncLimit: 2})
			sched, err := RandomSchedule(rand.New(rand.NewPCG(42, 0)), RandomOptions{
				Duration: 40 * time.Second, Servers: 5, MeanGap: 3 * time.Second, MinDown: time.Second, MaxDown: 6 * time.Second,
				Faults: []Action{Kill, Freeze, Partition},
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("schedule:\n%s", sched)
			stop := writers(t, e.ConnectString(), 4)
			evs, err := e.RunSchedule(ctx, sched, nil)
			writes, _ := stop()
			if err != nil {
				t.Fatal(err)
			}
			if os.Getenv("HARNESS_TIMELINE") != "" {
				for _, s := range e.Timeline() {
					t.Logf("timeline %s %d %s %d", s.Time.Format("05.000"), s.ID, s.Role, s.Epoch)
				}
			}
			for _, ev := range evs {
				t.Logf("%v (at %s, by %d)", ev, ev.Time.Format("05.000"), ev.RecoveredBy)
				if ev.Err != "" || (!ev.Skipped && !ev.Recovered) {
					t.Errorf("step did not apply or recover: %v", ev)
				}
			}
			if err := e.WaitServing(ctx); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d writes", writes)
		})
	}
}
