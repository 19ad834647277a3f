package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkbench/zkbench/server/quorum"
)

// A configuration written as upstream writes it after a reconfig loads
// back as the same membership, version included, and the static file
// keeps its other settings.
func TestWriteDynamicRoundTrip(t *testing.T) {
	dir := t.TempDir()
	static := filepath.Join(dir, "zoo.cfg")
	data := "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=" + dir + "\nclientPort=2181\nreconfigEnabled=true\n" +
		"server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\n"
	if err := os.WriteFile(static, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := Load(static, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := before.Members()
	m.Servers[10] = quorum.Server{ID: 10, Host: "127.0.0.1", QuorumPort: 2900, ElectionPort: 3900, Role: quorum.Participant, ClientHost: "127.0.0.1", ClientPort: 2190}
	delete(m.Servers, 3)
	m.Version = 0x100000003
	dyn, err := WriteDynamic(static, 1, m)
	if err != nil {
		t.Fatal(err)
	}
	if want := static + ".dynamic.100000003"; dyn != want {
		t.Fatalf("dynamic file %s, want %s", dyn, want)
	}
	got, _ := os.ReadFile(dyn)
	// Sorted as strings, as upstream does: "server.10=" < "server.1=".
	want := "server.10=127.0.0.1:2900:3900:participant;127.0.0.1:2190\nserver.1=127.0.0.1:2888:3888:participant\nserver.2=127.0.0.1:2889:3889:participant"
	if string(got) != want {
		t.Fatalf("dynamic file:\n%s\nwant:\n%s", got, want)
	}
	after, err := Load(static, nil)
	if err != nil {
		t.Fatal(err)
	}
	if after.Membership() != m.String() {
		t.Fatalf("reloaded membership:\n%s\nwant:\n%s", after.Membership(), m.String())
	}
	if after.ClientPort != 2181 || after.TickTime != 2000 || !after.ReconfigEnabled {
		t.Fatalf("static settings lost: %+v", after)
	}
	st, _ := os.ReadFile(static)
	if strings.Contains(string(st), "server.") || !strings.Contains(string(st), "dynamicConfigFile="+dyn) {
		t.Fatalf("static file after the rewrite:\n%s", st)
	}
}
