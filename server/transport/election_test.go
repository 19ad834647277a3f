package transport_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server/election"
	"github.com/zkbench/zkbench/server/transport"
)

// elNode is a minimal driver loop, the shape of a server driver:
// clock -> Tick, transport -> Step, Ready -> send, decision -> report.
type elNode struct {
	id      int64
	tr      *transport.TCP
	e       *election.Election
	cmds    chan func()
	decided chan election.Decision
	cancel  context.CancelFunc
	done    chan struct{}
}

type elCluster struct {
	t      testing.TB
	ids    []int64 // every voter, Go or not
	addrs  map[int64]string
	lns    map[int64]net.Listener
	zxids  map[int64]int64
	epochs map[int64]int64
	nodes  map[int64]*elNode
	tickMs int
}

func newElCluster(t testing.TB, n int) *elCluster {
	var ids []int64
	for i := 1; i <= n; i++ {
		ids = append(ids, int64(i))
	}
	c := newMixedCluster(t, ids, nil)
	// Server 2 has the longest history; the rest tie on zxid.
	for _, id := range ids {
		c.zxids[id] = 1<<32 | 5
	}
	c.zxids[2] = 1<<32 | 9
	return c
}

// newMixedCluster reserves election ports for the Go servers goIDs; other
// voters (say, Java servers) are listed in others with their addresses.
func newMixedCluster(t testing.TB, goIDs []int64, others map[int64]string) *elCluster {
	c := &elCluster{t: t, addrs: map[int64]string{}, lns: map[int64]net.Listener{}, zxids: map[int64]int64{},
		epochs: map[int64]int64{}, nodes: map[int64]*elNode{}, tickMs: 10}
	for _, id := range goIDs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c.ids = append(c.ids, id)
		c.lns[id] = ln
		c.addrs[id] = ln.Addr().String()
		c.epochs[id] = 1
	}
	for id, addr := range others {
		c.ids = append(c.ids, id)
		c.addrs[id] = addr
	}
	slices.Sort(c.ids)
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.stop()
		}
		for _, ln := range c.lns {
			ln.Close()
		}
	})
	return c
}

// start boots server id: transport, election, driver loop, and Start.
func (c *elCluster) start(id int64) *elNode {
	c.t.Helper()
	cfg := transport.TCPConfig{MyID: id, ListenAddr: c.addrs[id], Listener: c.lns[id], Peers: c.addrs,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	delete(c.lns, id)
	var tr *transport.TCP
	var err error
	for range 50 {
		if tr, err = transport.NewTCP(context.Background(), cfg); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	e := election.New(election.Config{ID: id, Voters: c.ids, TickMs: c.tickMs,
		FinalizeWaitTicks: 4, MaxNotifyIntervalTicks: 20}, c.zxids[id], c.epochs[id])
	ctx, cancel := context.WithCancel(context.Background())
	nd := &elNode{id: id, tr: tr, e: e, cmds: make(chan func(), 4), decided: make(chan election.Decision, 16),
		cancel: cancel, done: make(chan struct{})}
	c.nodes[id] = nd
	go nd.loop(ctx, c.tickMs)
	nd.do(e.Start)
	return nd
}

func (nd *elNode) do(f func()) { nd.cmds <- f }

func (nd *elNode) loop(ctx context.Context, tickMs int) {
	defer close(nd.done)
	tick := time.NewTicker(time.Duration(tickMs) * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-nd.cmds:
			f()
		case m, ok := <-nd.tr.Recv():
			if !ok {
				return
			}
			n, _, err := election.DecodeNotification(m.Payload)
			if err != nil {
				continue
			}
			n.From, n.To = m.From, m.To
			nd.e.Step(n)
		case <-tick.C:
			nd.e.Tick()
		}
		rd := nd.e.Ready()
		for _, m := range rd.Messages {
			nd.tr.Send(m.To, election.EncodeNotification(m, nil))
		}
		if rd.Decided != nil {
			nd.decided <- *rd.Decided
		}
		nd.e.Advance()
	}
}

func (nd *elNode) stop() {
	nd.cancel()
	<-nd.done
	nd.tr.Close()
}

// waitDecided waits for one decision from each of ids and returns them.
func (c *elCluster) waitDecided(ids []int64, timeout time.Duration) map[int64]election.Decision {
	c.t.Helper()
	out := map[int64]election.Decision{}
	deadline := time.After(timeout)
	for _, id := range ids {
		select {
		case d := <-c.nodes[id].decided:
			out[id] = d
		case <-deadline:
			c.t.Fatalf("server %d did not decide within %v (decided so far: %v)", id, timeout, out)
		}
	}
	return out
}

func agreeOn(t testing.TB, ds map[int64]election.Decision, want int64) {
	t.Helper()
	for id, d := range ds {
		if d.Leader != want {
			t.Fatalf("server %d follows %d, want %d (all: %v)", id, d.Leader, want, ds)
		}
		wantState := election.Following
		if id == want {
			wantState = election.Leading
		}
		if d.State != wantState {
			t.Fatalf("server %d is %v, want %v", id, d.State, wantState)
		}
	}
}

// TestIntegration_TCPElection runs FLE over real loopback TCP: a first
// election, a leader crash and re-election, and the old leader rejoining.
func TestIntegration_TCPElection(t *testing.T) {
	sizes := []int{3, 5}
	if !testing.Short() {
		sizes = append(sizes, 7)
	}
	for _, n := range sizes {
		t.Run(fmt.Sprintf("%d servers", n), func(t *testing.T) {
			c := newElCluster(t, n)
			t0 := time.Now()
			for _, id := range c.ids {
				c.start(id)
			}
			agreeOn(t, c.waitDecided(c.ids, 10*time.Second), 2)
			t.Logf("%d servers: first election took %v", n, time.Since(t0).Round(time.Millisecond))

			// The leader dies; the others notice (Zab's job) and look again.
			c.nodes[2].stop()
			delete(c.nodes, 2)
			var rest []int64
			for _, id := range c.ids {
				if id != 2 {
					rest = append(rest, id)
				}
			}
			t0 = time.Now()
			for _, id := range rest {
				nd := c.nodes[id]
				nd.do(nd.e.Start)
			}
			best := int64(n) // ties on zxid: highest id wins
			agreeOn(t, c.waitDecided(rest, 10*time.Second), best)
			t.Logf("%d servers: re-election without the leader took %v", n, time.Since(t0).Round(time.Millisecond))

			// The old leader restarts with fresh election state and must
			// join the new leader instead of forcing an election.
			c.lns[2] = nil
			t0 = time.Now()
			c.start(2)
			d := c.waitDecided([]int64{2}, 10*time.Second)[2]
			if d.State != election.Following || d.Leader != best {
				t.Fatalf("restarted server 2 decided %+v, want to follow %d", d, best)
			}
			t.Logf("%d servers: restarted server joined the leader in %v", n, time.Since(t0).Round(time.Millisecond))
			for _, id := range rest {
				select {
				case d := <-c.nodes[id].decided:
					t.Fatalf("server %d decided again (%+v) when 2 rejoined", id, d)
				default:
				}
			}
		})
	}
}

// BenchmarkTCPElection measures a full election round over loopback TCP:
// every server starts a new round at once and the clock stops when the
// last one decides. With every voter up the round ends without the
// finalize wait.
func BenchmarkTCPElection(b *testing.B) {
	for _, n := range []int{3, 5, 7, 13} {
		b.Run(fmt.Sprintf("servers=%d", n), func(b *testing.B) {
			c := newElCluster(b, n)
			for _, id := range c.ids {
				c.start(id)
			}
			c.waitDecided(c.ids, 10*time.Second)
			b.ResetTimer()
			for range b.N {
				// Every loop enters the barrier before any starts a round, so
				// no server answers from its previous decision.
				var barrier, started sync.WaitGroup
				barrier.Add(n)
				started.Add(n)
				for _, id := range c.ids {
					nd := c.nodes[id]
					nd.do(func() {
						barrier.Done()
						barrier.Wait()
						nd.e.Start()
						started.Done()
					})
				}
				started.Wait()
				ds := c.waitDecided(c.ids, 10*time.Second)
				agreeOn(b, ds, 2)
			}
		})
	}
}
