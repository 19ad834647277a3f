package server_test

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/zktest"
)

func TestIntegrationEnsembleSmoke(t *testing.T) {
	e := zktest.StartEnsemble(t, 3)
	leader := e.Leader(10 * time.Second)
	if leader < 0 {
		t.Fatal("no leader")
	}
	modes := []string{e.Mode(0), e.Mode(1), e.Mode(2)}
	t.Logf("modes %v", modes)
	c := connect(t, e.Servers[(leader+1)%3].Addr)
	if _, err := c.Create("/x", []byte("hello"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for i := range e.Servers {
		ci := connect(t, e.Servers[i].Addr)
		if _, err := ci.Sync("/x"); err != nil {
			t.Fatal(err)
		}
		data, _, err := ci.Get("/x")
		if err != nil || string(data) != "hello" {
			t.Fatalf("server %d: %q %v", i, data, err)
		}
	}
}
