package server_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/testenv"
	"github.com/zkbench/zkbench/internal/zktest"
)

// Real clients from Debian against the Go server: Java's zkCli.sh and
// kazoo. CI installs both; locally a missing one skips loudly.

func requireTool(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		testenv.Missing(t, "%s not installed: apt-get install -y %s", path, pkg)
	}
}

// requireOutput fails t for each of wants that the output of the client
// named what lacks, and then shows the whole output.
func requireOutput(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s output lacks %q", what, want)
		}
	}
	if t.Failed() {
		t.Logf("%s output:\n%s", what, text)
	}
}

func TestIntegrationZkCli(t *testing.T) {
	const zkCli = "/usr/share/zookeeper/bin/zkCli.sh"
	requireTool(t, zkCli, "zookeeper")
	srv := zktest.StartGo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, zkCli, "-server", srv.Addr)
	cmd.Stdin = strings.NewReader(strings.Join([]string{
		"create /cli hello",
		"create /cli/kid k",
		"ls /",
		"get /cli",
		"set /cli world",
		"stat /cli",
		"delete /cli",
		"deleteall /cli",
		"ls /",
		"quit",
	}, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("zkCli.sh: %v\n%s", err, out)
	}
	text := string(out)
	requireOutput(t, "zkCli.sh", text,
		"Created /cli",
		"Created /cli/kid",
		"[cli, zookeeper]",
		"hello",
		"dataVersion = 1",
		"numChildren = 1",
		"Node not empty: /cli",
		"[zookeeper]",
	)
}

func TestIntegrationKazoo(t *testing.T) {
	const python = "/usr/bin/python3"
	requireTool(t, "/usr/lib/python3/dist-packages/kazoo", "python3-kazoo")
	srv := zktest.StartGo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "testdata/kazoo_check.py", srv.Addr).CombinedOutput()
	if err != nil {
		t.Fatalf("kazoo checks failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "all kazoo checks passed") {
		t.Fatalf("kazoo script did not finish:\n%s", out)
	}
	t.Logf("kazoo:\n%s", out)
}

// The C client's cli_mt (Debian's zookeeper-bin). It is asynchronous, so
// the commands are paced; each answer is checked.
func TestIntegrationCClient(t *testing.T) {
	const cliMt = "/usr/lib/zookeeper/bin/cli_mt"
	requireTool(t, cliMt, "zookeeper-bin")
	srv := zktest.StartGo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliMt, srv.Addr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"create /c", "set /c world", "get /c", "create +e /c/eph", "ls /c", "delete /c/eph", "delete /c", "exists /c", "quit"} {
		time.Sleep(300 * time.Millisecond)
		stdin.Write([]byte(c + "\n"))
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("cli_mt: %v\n%s", err, out.String())
	}
	text := out.String()
	requireOutput(t, "cli_mt", text,
		"[/c]: rc = 0",
		"value_len = 5",
		"world",
		"[/c/eph]: rc = 0",
		"\teph",
		"Watcher CHILD_EVENT",
		"Error -101 for /c",
	)
}
