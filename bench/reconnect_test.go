package bench

import (
	"testing"
	"time"
)

func TestOrderedHosts(t *testing.T) {
	serving := []Target{{Addr: "a:1"}, {Addr: "b:1"}, {Addr: "c:1"}}
	servers := clientServers(serving, 1)
	if got := servers; got[0] != "b:1" || got[1] != "c:1" || got[2] != "a:1" {
		t.Fatalf("client on member 1 tries %v", got)
	}
	h := newOrderedHosts(servers, 40*time.Millisecond, 0)
	if h.pause < 20*time.Millisecond || h.pause > 60*time.Millisecond {
		t.Errorf("pause %v outside 0.5-1.5 x 40ms", h.pause)
	}
	// Shuffled input to Init is ignored: the client's own member comes first.
	if err := h.Init([]string{"c:1", "a:1", "b:1"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	t0 := time.Now()
	for range 3 {
		s, retry := h.Next()
		if retry {
			t.Error("retryStart reported: go-zookeeper would pause 1 s")
		}
		got = append(got, s)
	}
	if time.Since(t0) > h.pause/2 {
		t.Errorf("paused within the first round")
	}
	if got[0] != "b:1" || got[1] != "c:1" || got[2] != "a:1" {
		t.Errorf("order %v", got)
	}
	// A fourth attempt without success starts a new round after a pause.
	t0 = time.Now()
	if s, _ := h.Next(); s != "b:1" || time.Since(t0) < h.pause {
		t.Errorf("new round: %s after %v, want b:1 after %v", s, time.Since(t0), h.pause)
	}
	// Connected resets the round: the next failures try the others at once.
	h.Connected()
	t0 = time.Now()
	if s, _ := h.Next(); s != "c:1" || time.Since(t0) > h.pause/2 {
		t.Errorf("after a connection to b: %s after %v", s, time.Since(t0))
	}
	// Clients' pauses differ.
	if newOrderedHosts(servers, 40*time.Millisecond, 1).pause == h.pause {
		t.Error("clients 0 and 1 pause alike")
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{Interval: 300 * time.Millisecond}.withDefaults()
	if o.LogInterval != 1200*time.Millisecond {
		t.Errorf("log interval %v for a 300ms interval", o.LogInterval)
	}
	o = Options{}.withDefaults()
	if o.Interval != 100*time.Millisecond || o.LogInterval != time.Second || o.Reconnect.Mode != ReconnectTight || o.Placement != RoundRobin {
		t.Errorf("defaults: %+v", o)
	}
}
