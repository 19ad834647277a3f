package harness

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func TestIntegration_PartitionLeader(t *testing.T) {
	for _, impl := range heavyImpls(t) {
		t.Run(impl, func(t *testing.T) {
			ctx := testCtx(t, 90*time.Second)
			// syncLimit 2 x tickTime 500ms: a cut-off leader is noticed in ~1s.
			e := startEnsemble(t, ctx, Options{Impl: impl, Servers: 3, PeerProxy: true, SyncLimit: 2})
			old, ok := e.Leader()
			if !ok {
				t.Fatal("no leader")
			}
			if err := e.Partition(old); err != nil {
				t.Fatal(err)
			}
			if err := e.Partition(old); err == nil {
				t.Fatal("second Partition: no error")
			}
			// The two others elect a leader among themselves.
			var nl int
			e.pollUntil(ctx, 20*time.Millisecond, func(roles []Role) bool {
				for i, r := range roles {
					if i+1 != old && r == RoleLeader {
						nl = i + 1
						return true
					}
				}
				return false
			}, 0)
			t.Logf("%v partitioned %d", time.Now().Format("05.000"), old)
			if nl == 0 {
				t.Fatalf("no new leader while %d is partitioned: %+v", old, e.Members())
			}
			// The partitioned server still runs but no longer leads.
			e.pollUntil(ctx, 20*time.Millisecond, func(roles []Role) bool { return !roles[old-1].Serving() }, old)
			if m := e.Members()[old-1]; !m.Running || !m.Partitioned || m.Role.Serving() {
				t.Fatalf("partitioned old leader: %+v", m)
			}
			t.Logf("%v new leader %d; healing %d", time.Now().Format("05.000"), nl, old)
			if err := e.Heal(old); err != nil {
				t.Fatal(err)
			}
			waitRole(t, ctx, e, old, RoleFollower)
			t.Logf("%v %d follows again", time.Now().Format("05.000"), old)
			// Latency: a delayed follower still follows.
			if err := e.Delay(old, 20*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if err := e.WaitServing(ctx); err != nil {
				t.Fatal(err)
			}
			t.Logf("%v served with a delay", time.Now().Format("05.000"))
			if m := e.Members()[old-1]; m.Delay != 20*time.Millisecond {
				t.Fatalf("delay not recorded: %+v", m)
			}
			if err := e.Heal(old); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// writers runs n go-zookeeper clients writing in a loop until stop is
// closed; it returns a function that stops them and returns the number of
// successful writes and the time of the last one.
func writers(t *testing.T, connect string, n int) func() (int64, time.Time) {
	t.Helper()
	var ok atomic.Int64
	var last atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		c, _, err := zk.Connect(strings.Split(connect, ","), 10*time.Second, zk.WithLogger(nopLogger{}))
		if err != nil {
			t.Fatal(err)
		}
		path := "/w" + string(rune('a'+i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			for k := 0; k < 1_000_000; k++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err := c.Set(path, []byte("x"), -1)
				if errors.Is(err, zk.ErrNoNode) {
					_, err = c.Create(path, []byte("x"), 0, zk.WorldACL(zk.PermAll))
				}
				if err == nil {
					ok.Add(1)
					last.Store(time.Now().UnixNano())
				} else {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	return func() (int64, time.Time) {
		close(stop)
		wg.Wait()
		return ok.Load(), time.Unix(0, last.Load())
	}
}

func TestIntegration_PaperSchedule(t *testing.T) {
	for _, impl := range heavyImpls(t) {
		t.Run(impl, func(t *testing.T) {
			ctx := testCtx(t, 120*time.Second)
			e := startEnsemble(t, ctx, Options{Impl: impl, Servers: 3, Seed: 1})
			stop := writers(t, e.ConnectString(), 4)
			// Java servers take ~2s to restart and rejoin; Go ones well under 1s.
			d := 10 * time.Second
			if impl == ImplGo {
				d = 8 * time.Second
			}
			sched := PaperSchedule(d)
			var calls atomic.Int32
			evs, err := e.RunSchedule(ctx, sched, func(ev Event) { calls.Add(1); t.Log(ev) })
			if err != nil {
				t.Fatal(err)
			}
			// Let the load run on the recovered ensemble, then stop it.
			if err := e.WaitServing(ctx); err != nil {
				t.Fatal(err)
			}
			afterAll := time.Now()
			time.Sleep(300 * time.Millisecond)
			writes, last := stop()
			if writes == 0 || last.Before(afterAll) {
				t.Errorf("load: %d writes, last at %v (schedule done at %v)", writes, last, afterAll)
			}
			if len(evs) != len(sched.Steps) || calls.Load() < int32(len(evs)) {
				t.Fatalf("%d events, %d callbacks for %d steps", len(evs), calls.Load(), len(sched.Steps))
			}
			killed := map[string]int{}
			for i, ev := range evs {
				if ev.Skipped || ev.Err != "" || ev.Pending {
					t.Errorf("event %d: %v", i, ev)
					continue
				}
				if ev.ID == 0 || ev.Time.IsZero() {
					t.Errorf("event %d lacks target or time: %+v", i, ev)
				}
				st := ev.Step
				if st.Action == Kill {
					killed[st.As] = ev.ID
					want := RoleFollower
					if st.Target.Kind == TargetLeader {
						want = RoleLeader
					}
					if ev.Role != want {
						t.Errorf("event %d: target %d had role %s, want %s", i, ev.ID, ev.Role, want)
					}
					if ev.LeaderLost != (want == RoleLeader) {
						t.Errorf("event %d: LeaderLost %v", i, ev.LeaderLost)
					}
					if ev.LeaderLost && (!ev.Elected || ev.NewLeader == ev.ID || ev.Election <= 0) {
						t.Errorf("event %d: leader kill without a measured election: %v", i, ev)
					}
				}
				if st.Action == Restart && ev.ID != killed[st.Target.Ref] {
					t.Errorf("event %d restarted %d, but %s was %d", i, ev.ID, st.Target.Ref, killed[st.Target.Ref])
				}
				if !ev.Recovered || ev.Recovery <= 0 {
					t.Errorf("event %d never recovered: %v", i, ev)
				}
			}
			// Events 1 and 2 hit different followers.
			if killed["f1"] == killed["f2"] {
				t.Errorf("events 1 and 2 both hit server %d", killed["f1"])
			}
			if len(e.Timeline()) < 10 {
				t.Errorf("timeline has only %d samples", len(e.Timeline()))
			}
		})
	}
}

func TestIntegration_SkipsInapplicable(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	e := startEnsemble(t, ctx, Options{Impl: fastestImpl(), Servers: 3})
	sched, err := ParseSchedule("at 0s kill 2; at 0s kill 2; at 0s freeze 2; at 0s thaw 3; at 100ms restart 2; at 100ms restart 2")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := e.RunSchedule(ctx, sched, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantSkip := []bool{false, true, true, true, false, true}
	for i, ev := range evs {
		if ev.Skipped != wantSkip[i] || ev.Err != "" {
			t.Errorf("event %d: skipped %v (want %v) err %q: %v", i, ev.Skipped, wantSkip[i], ev.Err, ev)
		}
	}
	if !strings.Contains(evs[1].Reason, "already down") {
		t.Errorf("reason %q", evs[1].Reason)
	}
	// Network faults need the proxy: refused before anything runs.
	p, _ := ParseSchedule("at 0s partition leader")
	if _, err := e.RunSchedule(ctx, p, nil); !errors.Is(err, ErrUnavailable) {
		t.Errorf("partition without proxy: %v", err)
	}
	if _, err := e.RunSchedule(ctx, Schedule{Steps: []Step{{Action: Kill, Target: Target{Kind: TargetID, ID: 7}}}}, nil); err == nil {
		t.Error("schedule naming server 7 of 3 accepted")
	}
	_ = context.Background
}

func TestIntegration_CloseEndsSchedule(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	e := startEnsemble(t, ctx, Options{Impl: fastestImpl(), Servers: 1})
	sched, err := ParseSchedule("at 0s kill 1; at 30s restart 1")
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(500*time.Millisecond, func() { e.Close() })
	start := time.Now()
	evs, err := e.RunSchedule(ctx, sched, nil)
	if !errors.Is(err, ErrClosed) || time.Since(start) > 10*time.Second {
		t.Fatalf("RunSchedule after Close: %v after %v", err, time.Since(start))
	}
	if len(evs) != 1 || evs[0].Step.Action != Kill {
		t.Fatalf("events %+v", evs)
	}
}
