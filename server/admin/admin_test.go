package admin

import (
	"strings"
	"testing"

	"github.com/zkbench/zkbench/server/config"
)

// leader answers as upstream's LeaderCommand: an error on a standalone
// server; in an ensemble, whether this server leads, the leader's id and
// its host.
func TestLeader(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader("dataDir=/d\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n"+
		"server.1=10.0.0.1:2888:3888\nserver.2=10.0.0.2:2888:3888\nserver.3=10.0.0.3:2888:3888\n"), "zoo.cfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MyID = 1
	if got := run(&Options{Config: cfg}, "leader"); got["error"] != "server is not initialized" || got["command"] != "leader" {
		t.Errorf("standalone: %v", got)
	}
	for _, tc := range []struct {
		leader int64
		is     bool
		ip     string
	}{{1, true, "10.0.0.1"}, {2, false, "10.0.0.2"}, {0, false, ""}} {
		got := run(&Options{Config: cfg, Leader: func() int64 { return tc.leader }}, "lead")
		if got["is_leader"] != tc.is || got["leader_id"] != tc.leader || got["leader_ip"] != tc.ip || got["error"] != nil {
			t.Errorf("leader %d: %v", tc.leader, got)
		}
	}
	if got := run(&Options{}, "nope"); got["error"] != "Unknown command: nope" || got["command"] != "nope" {
		t.Errorf("unknown command: %v", got)
	}
}
