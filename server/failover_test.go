package server_test

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/zktest"
)

// Real-process failure tests: kill -9 of leaders, followers, a minority and
// a majority, with the acknowledged writes checked afterwards.

// tightConnect connects to the given servers with a reconnect policy that
// does not pause between rounds (go-zookeeper's default waits 1 s after a
// full round of refused servers, which would hide the servers' recovery).
func tightConnect(t *testing.T, addrs []string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect(addrs, 4*time.Second, zk.WithLogger(quietLogger{}),
		zk.WithHostProvider(&roundRobin{}),
		zk.WithDialer(func(network, addr string, timeout time.Duration) (net.Conn, error) {
			return net.DialTimeout(network, addr, 200*time.Millisecond)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// roundRobin is a zk.HostProvider that never sleeps between rounds.
type roundRobin struct {
	mu      sync.Mutex
	servers []string
	next    int
}

func (r *roundRobin) Init(servers []string) error { r.servers = servers; return nil }
func (r *roundRobin) Len() int                    { return len(r.servers) }
func (r *roundRobin) Next() (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.servers[r.next%len(r.servers)]
	r.next++
	if r.next%len(r.servers) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	return s, false
}
func (r *roundRobin) Connected() {}

// writeUntilOK retries a setData until it succeeds and returns how long
// that took.
func writeUntilOK(t *testing.T, c *zk.Conn, path string, data []byte, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		if _, err := c.Set(path, data, -1); err == nil {
			return time.Since(start)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("no successful write to %s within %v", path, limit)
	return 0
}

func others(e *zktest.Ensemble, skip ...int) []string {
	var out []string
next:
	for i, s := range e.Servers {
		for _, k := range skip {
			if i == k {
				continue next
			}
		}
		out = append(out, s.Addr)
	}
	return out
}

func TestIntegrationEnsembleSizesStart(t *testing.T) {
	sizes := []int{3, 5, 7, 13}
	if testing.Short() {
		sizes = []int{3, 5}
	}
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			start := time.Now()
			e := zktest.StartEnsemble(t, n)
			leaders, followers := 0, 0
			for i := range e.Servers {
				switch e.Mode(i) {
				case "leader":
					leaders++
				case "follower":
					followers++
				}
			}
			if leaders != 1 || followers != n-1 {
				t.Fatalf("%d servers: %d leaders, %d followers", n, leaders, followers)
			}
			c := connect(t, e.Servers[0].Addr)
			if _, err := c.Create("/up", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d servers serving writes %v after the first process started", n, time.Since(start).Round(time.Millisecond))
		})
	}
}

func TestIntegrationEnsembleFailover(t *testing.T) {
	e := zktest.StartEnsemble(t, 3)
	L := e.Leader(10 * time.Second)
	setup := connect(t, e.Servers[(L+1)%3].Addr)
	open := zk.WorldACL(zk.PermAll)
	if _, err := setup.Create("/f", []byte("0"), 0, open); err != nil {
		t.Fatal(err)
	}
	acked := 0
	write := func(c *zk.Conn) {
		t.Helper()
		acked++
		writeUntilOK(t, c, "/f", []byte(fmt.Sprint(acked)), 20*time.Second)
	}

	// 1. The leader dies: a new one is elected and writes resume.
	c := tightConnect(t, others(e, L))
	write(c)
	e.Servers[L].Kill()
	killed := time.Now()
	acked++
	d := writeUntilOK(t, c, "/f", []byte(fmt.Sprint(acked)), 20*time.Second)
	t.Logf("leader %d killed: first acknowledged write after %v", L+1, d.Round(time.Millisecond))
	newL := e.Leader(5 * time.Second)
	if newL < 0 || newL == L {
		t.Fatalf("no new leader (got %d, old %d)", newL, L)
	}
	_ = killed
	for i := 0; i < 20; i++ {
		write(c)
	}

	// 2. The old leader comes back as a follower and catches up (DIFF).
	e.Servers[L].Start()
	if m := e.Mode(L); m != "follower" {
		t.Fatalf("restarted old leader is %q, want follower", m)
	}
	old := connect(t, e.Servers[L].Addr)
	if _, err := old.Sync("/f"); err != nil {
		t.Fatal(err)
	}
	data, _, err := old.Get("/f")
	if err != nil || string(data) != fmt.Sprint(acked) {
		t.Fatalf("restarted old leader reads %q %v, want %d", data, err, acked)
	}
	if log := e.Servers[L].LogText(e.Servers[L].Starts()); strings.Contains(log, "installed the leader's snapshot") {
		t.Errorf("a short absence should sync by DIFF, not SNAP")
	}

	// 3. A minority (one follower) dies: service continues.
	F := (newL + 1) % 3
	e.Servers[F].Kill()
	c2 := tightConnect(t, others(e, F))
	for i := 0; i < 10; i++ {
		write(c2)
	}
	e.Servers[F].Start()

	// 4. A majority dies: writes fail (never a false ack), then resume.
	leader := e.Leader(5 * time.Second)
	survivor := (leader + 1) % 3
	victims := []int{leader, (leader + 2) % 3}
	for _, v := range victims {
		e.Servers[v].Kill()
	}
	c3 := tightConnect(t, []string{e.Servers[survivor].Addr})
	// go-zookeeper holds requests while it cannot connect; any that
	// returns success while the majority is down is a false ack.
	results := make(chan error, 5)
	for i := 0; i < 5; i++ {
		go func() {
			_, err := c3.Set("/f", []byte("no-quorum"), -1)
			results <- err
		}()
	}
	deadline := time.After(3 * time.Second)
	falseAcks, failed := 0, 0
wait:
	for i := 0; i < 5; i++ {
		select {
		case err := <-results:
			if err == nil {
				falseAcks++
			} else {
				failed++
			}
		case <-deadline:
			break wait
		}
	}
	if falseAcks > 0 {
		t.Fatalf("%d writes acknowledged without a quorum", falseAcks)
	}
	t.Logf("majority down: %d writes failed, %d still waiting, 0 acknowledged", failed, 5-failed)
	for _, v := range victims {
		e.Servers[v].Start()
	}
	write(c3)
	for i := 0; i < 5-failed; i++ {
		<-results // the held writes may complete once the quorum is back
	}
	write(c3)
	for i := range e.Servers {
		ci := connect(t, e.Servers[i].Addr)
		ci.Sync("/f")
		data, _, err := ci.Get("/f")
		if err != nil || string(data) != fmt.Sprint(acked) {
			t.Fatalf("server %d reads %q %v after recovery, want %d", i+1, data, err, acked)
		}
	}
}

// A follower that misses more history than the leader keeps in memory
// catches up from a snapshot (SNAP).
func TestIntegrationEnsembleSnapSync(t *testing.T) {
	e := zktest.StartEnsemble(t, 3, "commitLogCount=20")
	L := e.Leader(10 * time.Second)
	F := (L + 1) % 3
	c := tightConnect(t, others(e, F))
	open := zk.WorldACL(zk.PermAll)
	if _, err := c.Create("/s", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	e.Servers[F].Kill()
	for i := 0; i < 100; i++ {
		if _, err := c.Create(fmt.Sprintf("/s/n%03d", i), []byte(fmt.Sprint(i)), 0, open); err != nil {
			t.Fatal(err)
		}
	}
	e.Servers[F].Start()
	fc := connect(t, e.Servers[F].Addr)
	fc.Sync("/s")
	kids, _, err := fc.Children("/s")
	if err != nil || len(kids) != 100 {
		t.Fatalf("follower after SNAP has %d children (%v), want 100", len(kids), err)
	}
	if log := e.Servers[F].LogText(e.Servers[F].Starts()); !strings.Contains(log, "installed the leader's snapshot") {
		t.Errorf("expected the follower to sync by SNAP; its log:\n%s", tail(log, 3000))
	}
	// It keeps up with new writes afterwards, and survives its own restart.
	if _, err := c.Create("/s/after", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	e.Servers[F].Kill()
	e.Servers[F].Start()
	fc2 := connect(t, e.Servers[F].Addr)
	fc2.Sync("/s")
	if ok, _, err := fc2.Exists("/s/after"); err != nil || !ok {
		t.Fatalf("follower lost /s/after across a restart after SNAP: %v %v", ok, err)
	}
}
