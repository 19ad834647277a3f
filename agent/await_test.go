package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// flakyWatcher answers ExistsW from a script: an error, or whether the
// node exists (with a watch that fires at once, as after a change).
type flakyWatcher struct {
	answers []any // error or bool
	calls   int
}

func (f *flakyWatcher) ExistsW(string) (bool, *zk.Stat, <-chan zk.Event, error) {
	a := f.answers[min(f.calls, len(f.answers)-1)]
	f.calls++
	if err, ok := a.(error); ok {
		return false, nil, nil, err
	}
	ch := make(chan zk.Event, 1)
	ch <- zk.Event{Type: zk.EventNodeCreated}
	return a.(bool), &zk.Stat{}, ch, nil
}

// A lost coordination connection is ridden out: the watch is set again
// once go-zookeeper has reconnected. Giving up on the first error left an
// agent deaf to its coordinator's exit (a server outlived its killed
// coordinator in a loaded CI run).
func TestAwaitNodeRidesOutALostConnection(t *testing.T) {
	ctx := context.Background()
	f := &flakyWatcher{answers: []any{zk.ErrConnectionClosed, zk.ErrNoServer, false, true}}
	if err := awaitNode(ctx, f, "/runs/r/abort", true); err != nil || f.calls != 4 {
		t.Errorf("awaitNode = %v after %d calls, want nil after 4", err, f.calls)
	}
	f = &flakyWatcher{answers: []any{true, zk.ErrConnectionClosed, false}}
	if err := awaitNode(ctx, f, "/runs/r/coordinator", false); err != nil || f.calls != 3 {
		t.Errorf("awaiting a node's end = %v after %d calls, want nil after 3", err, f.calls)
	}
	f = &flakyWatcher{answers: []any{zk.ErrConnectionClosed, zk.ErrSessionExpired}}
	if err := awaitNode(ctx, f, "/x", true); !errors.Is(err, zk.ErrSessionExpired) {
		t.Errorf("awaitNode = %v, want the session's expiry", err)
	}
	why := errors.New("run over")
	cctx, cancel := context.WithCancelCause(ctx)
	time.AfterFunc(300*time.Millisecond, func() { cancel(why) })
	f = &flakyWatcher{answers: []any{zk.ErrNoServer}}
	if err := awaitNode(cctx, f, "/x", true); !errors.Is(err, why) || f.calls < 2 {
		t.Errorf("awaitNode = %v after %d calls, want the context's cause after retrying", err, f.calls)
	}
}
