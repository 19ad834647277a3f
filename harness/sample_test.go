package harness

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestSampling: every server is sampled every MntrInterval (mntr's role,
// queue, latency, fsync and data figures, and its process's CPU and RSS);
// a down server is still sampled, as down; and the harness tells a kill it
// made from a process that ended on its own. (A leader with leaderServes=no
// answers no four-letter word, Java's nor ours: hence LeaderServes.)
func TestSampling(t *testing.T) {
	for _, impl := range impls(t) {
		t.Run(impl, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			e := startEnsemble(t, ctx, Options{Impl: impl, Servers: 3, LeaderServes: true, MntrInterval: 200 * time.Millisecond})
			time.Sleep(time.Second)
			fsyncKey := "zk_fsync_count"
			if impl == ImplJava {
				fsyncKey = "zk_cnt_fsynctime"
			}
			seen := map[int]MntrSnapshot{}
			for _, s := range e.MntrSnapshots() {
				if s.Values != nil {
					seen[s.ID] = s
				}
			}
			for id := 1; id <= 3; id++ {
				s, ok := seen[id]
				if !ok {
					t.Fatalf("server %d: no answered sample in %d", id, len(e.MntrSnapshots()))
				}
				if s.Role == RoleUnknown || s.Values["zk_server_state"] == "" || s.Values["zk_znode_count"] == "" || s.Values[fsyncKey] == "" {
					t.Errorf("server %d sampled as role %q, values %v: want its role, zk_server_state, zk_znode_count and %s", id, s.Role, s.Values, fsyncKey)
				}
				if s.PID <= 0 || s.CPUSeconds < 0 || s.RSSKiB <= 0 {
					t.Errorf("server %d: pid %d, CPU %v s, RSS %d KiB: want the process's figures", id, s.PID, s.CPUSeconds, s.RSSKiB)
				}
				if impl == ImplGo && s.Values["zk_sum_fsynctime"] == "" {
					t.Errorf("server %d: no fsync time from its Prometheus endpoint: %v", id, s.Values)
				}
				if _, ok := s.Values["zk_version"]; ok {
					t.Errorf("server %d: zk_version kept, want only MntrKeys", id)
				}
			}

			leader, _ := e.Leader()
			victim, bystander := 1, 2
			if leader == victim {
				victim = 3
			} else if leader == bystander {
				bystander = 3
			}
			if err := e.Kill(victim); err != nil {
				t.Fatal(err)
			}
			pid := e.Members()[bystander-1].PID
			if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(e.Exits()) < 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			exits := e.Exits()
			if len(exits) != 2 {
				t.Fatalf("exits %+v: want the kill and the death", exits)
			}
			for _, x := range exits {
				want := x.ID == victim
				if x.Killed != want || x.Status == "" {
					t.Errorf("exit of server %d (%s): killed by the harness %v, want %v", x.ID, x.Status, x.Killed, want)
				}
			}
			time.Sleep(500 * time.Millisecond)
			var down bool
			for _, s := range e.MntrSnapshots() {
				if s.ID == victim && s.Role == RoleDown && s.Values == nil && s.PID == 0 {
					down = true
				}
			}
			if !down {
				t.Errorf("server %d: no sample saying it is down", victim)
			}
			t.Logf("%d samples; exits %s", len(e.MntrSnapshots()), strconv.Quote(exits[0].Status))
		})
	}
}

// TestSamplingHiddenLeader: a Go leader with leaderServes=no answers no
// mntr, but its Prometheus endpoint gives its figures, fsync time included.
func TestSamplingHiddenLeader(t *testing.T) {
	if skipGo() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := startEnsemble(t, ctx, Options{Impl: ImplGo, Servers: 3, MntrInterval: 200 * time.Millisecond})
	time.Sleep(time.Second)
	leader, ok := e.Leader()
	if !ok {
		t.Fatal("no leader")
	}
	for _, s := range e.MntrSnapshots() {
		if s.ID == leader && s.Role == RoleLeader && s.Values["zk_cnt_fsynctime"] != "" && s.Values["zk_sum_fsynctime"] != "" && s.Values["zk_outstanding_requests"] != "" {
			return
		}
	}
	t.Errorf("leader %d: no sample with its fsync time and queue in %d", leader, len(e.MntrSnapshots()))
}
