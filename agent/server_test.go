package agent

import (
	"strings"
	"testing"
)

func TestRenderServerConfig(t *testing.T) {
	ens := Ensemble{Servers: []ServerAddr{
		{ID: 1, Host: "10.0.0.1", Client: 2181, Quorum: 2888, Election: 3888},
		{ID: 2, Host: "10.0.0.2", Client: 2182, Quorum: 2889, Election: 3889},
		{ID: 3, Host: "10.0.0.3", Client: 2183, Quorum: 2890, Election: 3890},
	}}
	text, err := RenderServerConfig(ServerAssignment{ID: 2, TickTime: 200, ExtraConfig: map[string]string{"maxClientCnxns": "10", "snapCount": "1000"}}, ens, "/d")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"tickTime=200\n", "initLimit=10\n", "dataDir=/d\n", "clientPort=2182\n", "clientPortAddress=10.0.0.2\n",
		"maxClientCnxns=10\n", "snapCount=1000\n", "leaderServes=no\n", "standaloneEnabled=false\n",
		"server.1=10.0.0.1:2888:3888\n", "server.3=10.0.0.3:2890:3890\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("config lacks %q:\n%s", want, text)
		}
	}
	if _, err := RenderServerConfig(ServerAssignment{ID: 4}, ens, "/d"); err == nil {
		t.Error("server 4 of 3: no error")
	}
	one, _ := RenderServerConfig(ServerAssignment{ID: 1}, Ensemble{Servers: ens.Servers[:1]}, "/d")
	if strings.Contains(one, "server.1=") || !strings.Contains(one, "standaloneEnabled=true") {
		t.Errorf("standalone config:\n%s", one)
	}
}
