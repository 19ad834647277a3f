package history

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func mix(seed int64, opts Options) []Op {
	opts.Addrs = []string{"127.0.0.1:1"}
	opts.Seed = seed
	opts.RunTag = "t"
	if err := opts.defaults(); err != nil {
		panic(err)
	}
	c := &client{id: 1, opts: &opts, keys: KeyPaths(opts.Root, opts.Keys), rng: rand.New(rand.NewPCG(uint64(seed), 1))}
	var ops []Op
	for n := 0; n < 300; n++ {
		ops = append(ops, c.next(n))
	}
	return ops
}

func TestClientMixIsSeededAndWeighted(t *testing.T) {
	a, b := mix(5, Options{}), mix(5, Options{})
	if !slices.Equal(a, b) {
		t.Fatal("the same seed gave different operations")
	}
	if slices.Equal(a, mix(6, Options{})) {
		t.Fatal("different seeds gave the same operations")
	}
	count := map[Kind]int{}
	for _, o := range a {
		count[o.Kind]++
	}
	if count[KindRead] < 90 || count[KindWrite] < 80 || count[KindSync] < 20 {
		t.Fatalf("default 45/40/15 mix came out %v", count)
	}
	for i, o := range mix(5, Options{SyncEvery: 4, ReadWeight: 1, WriteWeight: 1}) {
		if (i%4 == 3) != (o.Kind == KindSync) {
			t.Fatalf("op %d is %v with SyncEvery 4", i, o)
		}
	}
}

func TestMaybeApplied(t *testing.T) {
	for _, err := range []error{zk.ErrConnectionClosed, zk.ErrSessionExpired, zk.ErrNoServer, zk.ErrClosing, errors.New("timeout")} {
		if !MaybeApplied(err) {
			t.Errorf("%v: a write that failed so may have been applied", err)
		}
	}
	for _, err := range []error{zk.ErrNoNode, zk.ErrBadVersion} {
		if MaybeApplied(err) {
			t.Errorf("%v: the server rejected the write before proposing it", err)
		}
	}
}

// With no server at all, RunClients fails in bounded time, and a client
// with servers that refuse connections neither spins nor hangs.
func TestRunClientsNoServerIsBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := RunClients(ctx, Options{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}, Timeout: 300 * time.Millisecond})
	if err == nil {
		t.Fatal("RunClients succeeded with no server")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("RunClients took %v with no server", took)
	}
	if _, err := FinalCheck(ctx, []string{"127.0.0.1:1"}, []string{"/hist/k0"}); err == nil {
		t.Fatal("FinalCheck succeeded with no server")
	}
}
