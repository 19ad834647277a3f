package harness

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePlacement(t *testing.T) {
	for _, tc := range []struct {
		placement string
		n         int
		want      map[int]string // nil: an error
	}{
		{"go=2,java=1", 3, map[int]string{1: ImplGo, 2: ImplGo, 3: ImplJava}},
		{"java=1, go=4", 5, map[int]string{1: ImplJava, 2: ImplGo, 3: ImplGo, 4: ImplGo, 5: ImplGo}},
		{"java=3", 3, map[int]string{1: ImplJava, 2: ImplJava, 3: ImplJava}},
		{"go=2,java=2", 3, nil},
		{"go=1,java=1", 3, nil},
		{"go=1,go=2", 3, nil},
		{"rust=3", 3, nil},
		{"go=-1,java=4", 3, nil},
		{"go:2,java=1", 3, nil},
		{"", 3, nil},
	} {
		got, err := ParsePlacement(tc.placement, tc.n)
		if tc.want == nil {
			if err == nil {
				t.Errorf("ParsePlacement(%q, %d) = %v, want an error", tc.placement, tc.n, got)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("ParsePlacement(%q, %d) = %v, %v; want %v", tc.placement, tc.n, got, err, tc.want)
		}
	}
	if err := (&Options{Impl: ImplGo, GoCommand: []string{"zkserver"}, Placement: "go=3"}).withDefaults(); err == nil {
		t.Error("a placement was accepted for impl go")
	}
	if err := (&Options{Impl: ImplMixed, GoCommand: []string{"zkserver"}, Placement: "go=2,java=2"}).withDefaults(); err == nil {
		t.Error("a placement of 4 servers was accepted for 3")
	}
}

// TestIntegration_Mixed starts a mixed ensemble, Go servers 1 and 2 and a
// Java server 3 (which a fresh ensemble elects), and requires each server
// to run its implementation and the ensemble to elect and serve.
func TestIntegration_Mixed(t *testing.T) {
	needJava(t)
	o := Options{Impl: ImplMixed, Placement: "go=2,java=1", GoCommand: zkserverCommand(t), JavaHeap: "128m",
		JavaOpts: []string{"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto"}}
	e := startEnsemble(t, testCtx(t, 60*time.Second), o)
	ms := e.Members()
	if len(ms) != 3 {
		t.Fatalf("members %+v", ms)
	}
	for _, m := range ms {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", m.PID))
		if err != nil {
			t.Fatal(err)
		}
		java := slices.Contains(strings.Split(string(raw), "\x00"), "org.apache.zookeeper.server.quorum.QuorumPeerMain")
		if java != (m.ID == 3) {
			t.Errorf("server %d runs %q: Java %v, want %v", m.ID, raw, java, m.ID == 3)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		roles := map[Role]int{}
		for _, m := range e.Members() {
			roles[m.Role]++
		}
		if roles[RoleLeader] == 1 && roles[RoleFollower] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("roles %v after 30 s, want a leader and 2 followers", roles)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
