package server_test

import (
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// orderedHosts hands go-zookeeper its servers in the order given, so that
// a session starts on the first and moves to the next when it dies.
type orderedHosts struct {
	addrs []string
	next  int
}

func (h *orderedHosts) Init([]string) error { return nil }
func (h *orderedHosts) Len() int            { return len(h.addrs) }
func (h *orderedHosts) Connected()          {}
func (h *orderedHosts) Next() (string, bool) {
	a := h.addrs[h.next%len(h.addrs)]
	h.next++
	return a, h.next%len(h.addrs) == 0
}

// TestIntegrationMixedSessionMovesToGoFollower moves a session from a Java
// follower, killed, to a Go follower of a Java leader, as a rolling
// replacement does to every client of the server it stops. Upstream's
// learner tells the leader (REVALIDATE), which makes the learner the
// session's owner; without it a Java leader refuses the session's every
// write with SESSIONMOVED (PrepRequestProcessor's checkSession), for as
// long as it leads.
func TestIntegrationMixedSessionMovesToGoFollower(t *testing.T) {
	e := startMixed(t, []bool{true, false, true}) // Java 1, Go 2, Java 3 (the leader)
	c, _, err := zk.Connect([]string{e.Servers[0].Addr, e.Servers[1].Addr}, 10*time.Second,
		zk.WithHostProvider(&orderedHosts{addrs: []string{e.Servers[0].Addr, e.Servers[1].Addr}}), zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Create("/moved", []byte("java"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create through Java server 1: %v", err)
	}
	id := c.SessionID()
	e.Servers[0].Kill()
	var lastErr error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c.State() != zk.StateHasSession || c.Server() != e.Servers[1].Addr {
			continue
		}
		_, lastErr = c.Set("/moved", []byte("go"), -1)
		if lastErr == nil || errors.Is(lastErr, zk.ErrSessionMoved) {
			break
		}
	}
	if c.SessionID() != id {
		t.Fatalf("session %#x became %#x: want the same session reattached on server 2", id, c.SessionID())
	}
	if lastErr != nil {
		t.Fatalf("write through Go server 2 after the session moved there: %v", lastErr)
	}
}
