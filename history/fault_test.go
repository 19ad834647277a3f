package history

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/zktest"
)

// TestIntegration_GoEnsembleKills runs the clients against a three-server
// zkserver ensemble while a follower and then the leader are killed and
// restarted, and requires the checkers to pass and the driver to keep going
// through the faults within its time bounds.
func TestIntegration_GoEnsembleKills(t *testing.T) {
	e := zktest.StartEnsemble(t, 3)
	leader := e.Leader(10 * time.Second)
	if leader < 0 {
		t.Fatal("no leader within 10s")
	}
	follower := (leader + 1) % 3
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	opts := Options{Addrs: e.Addrs(), Clients: 4, Keys: 3, Seed: 7, Root: "/hist/faults", Timeout: 2 * time.Second,
		MaxOps: 20000, Think: time.Millisecond}
	done := make(chan struct{})
	go func() {
		defer close(done)
		step := func(d time.Duration) bool {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(d):
				return true
			}
		}
		if !step(time.Second) {
			return
		}
		e.Servers[follower].Kill()
		if !step(time.Second) {
			return
		}
		e.Servers[follower].Start()
		if !step(500 * time.Millisecond) {
			return
		}
		e.Servers[leader].Kill()
		if !step(1500 * time.Millisecond) {
			return
		}
		e.Servers[leader].Start()
	}()
	start := time.Now()
	h, err := RunClients(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 6*time.Second+opts.Timeout+5*time.Second {
		t.Errorf("RunClients took %v, beyond its bound", took)
	}
	<-done
	for _, s := range e.Servers {
		if err := zktest.WaitServing(s.Addr, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	checkRun(t, h, e.Addrs(), opts, "under kills")
	c := h.Counts()
	if c.WritesOK < 20 || c.Sessions < opts.Clients {
		t.Fatalf("too little happened: %+v", c)
	}
	// The faults reached the clients, and they kept going to the end.
	if c.WritesUnknown+c.Failed == 0 {
		t.Errorf("no operation failed although servers were killed under the clients: %+v", c)
	}
	if last := lastSuccess(h); last < 5*time.Second {
		t.Errorf("the last successful operation returned at %v of a 6s run", last)
	}
}

// TestIntegration_JavaPause freezes a standalone upstream server (SIGSTOP)
// for longer than the operation timeout: operations in flight time out,
// clients give up their sessions and open new ones once it thaws, and the
// history, with its writes of unknown outcome, still checks.
func TestIntegration_JavaPause(t *testing.T) {
	s := zktest.StartJava(t)
	t.Cleanup(func() { syscall.Kill(s.PID, syscall.SIGCONT) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opts := Options{Addrs: []string{s.Addr}, Clients: 3, Keys: 2, Seed: 3, Root: "/hist/pause",
		Timeout: time.Second, SessionTimeout: 10 * time.Second, MaxOps: 20000, Think: time.Millisecond}
	go func() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		syscall.Kill(s.PID, syscall.SIGSTOP)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
		syscall.Kill(s.PID, syscall.SIGCONT)
	}()
	start := time.Now()
	h, err := RunClients(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second+opts.Timeout+5*time.Second {
		t.Errorf("RunClients took %v, beyond its bound", took)
	}
	checkRun(t, h, []string{s.Addr}, opts, "across a pause")
	c := h.Counts()
	if c.WritesUnknown+c.Failed == 0 || c.Sessions <= opts.Clients {
		t.Errorf("the pause did not time operations out and renew sessions: %+v", c)
	}
	if last := lastSuccess(h); last < 4*time.Second {
		t.Errorf("no success after the thaw: last at %v", last)
	}
}
