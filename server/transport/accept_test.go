package transport

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/netutil/netutiltest"
)

// An election port whose accept fails with EMFILE/ENFILE keeps accepting
// once descriptors are back: the error is logged, not the end of the loop.
func TestTCPAcceptSurvivesTransientErrors(t *testing.T) {
	var logs syncBuffer
	fl := netutiltest.NewFailingListener(t, 4)
	peer := freeAddr(t)
	tr, err := NewTCP(context.Background(), TCPConfig{MyID: 2, Listener: fl, Logger: testLogger(t, &logs),
		Peers: map[int64]string{3: peer}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// Server 3 (higher id) connects and sends: its connection is kept.
	c, err := net.Dial("tcp", tr.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(rawInitial(ProtocolVersion, 3, peer))
	c.Write([]byte{0, 0, 0, 2, 'h', 'i'})
	select {
	case m := <-tr.Recv():
		if m.From != 3 || string(m.Payload) != "hi" {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no message after transient accept errors; log:\n%s", logs.String())
	}
	if n := fl.Unseen(); n > 0 {
		t.Fatalf("listener still has %d failures to return", n)
	}
	waitLog(t, &logs, "too many open files")
}

// The quorum port's Accept retries transient errors instead of returning
// them (the leader's accept loop would end), and still honours ctx.
func TestQuorumAcceptSurvivesTransientErrors(t *testing.T) {
	var logs syncBuffer
	fl := netutiltest.NewFailingListener(t, 4)
	ql := NewQuorumListener(fl, testLogger(t, &logs))
	defer ql.Close()
	go func() {
		if qc, err := DialQuorum(context.Background(), ql.Addr().String(), 5*time.Second); err == nil {
			time.Sleep(time.Second)
			qc.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	qc, err := ql.Accept(ctx)
	if err != nil {
		t.Fatalf("accept after transient errors: %v; log:\n%s", err, logs.String())
	}
	qc.Close()
	waitLog(t, &logs, "too many open files in system") // ENFILE

	// A listener that keeps failing still gives up when ctx ends.
	fl.Fail(1 << 30)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := ql.Accept(ctx2); err == nil || ctx2.Err() == nil {
		t.Fatalf("accept on a failing listener: err = %v before ctx ended", err)
	}
}
