package harness

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zkbench/zkbench/internal/zkbin"
)

// TestCommandGo checks that Command builds the Go server's command as
// Start does: the command line with the config last, the server's
// directory, its own process group with Pdeathsig, and GOMAXPROCS only
// when a CPU share is asked for.
func TestCommandGo(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	for _, tc := range []struct {
		cpus int
		env  string // the variable Command must add, "" for none
	}{{-1, ""}, {3, "GOMAXPROCS=3"}} {
		cmd, err := Command(Options{Impl: ImplGo, GoCommand: []string{"/bin/zkserver", "start-foreground"}, ServerCPUs: tc.cpus}, dir, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"/bin/zkserver", "start-foreground", cfg}; !slices.Equal(cmd.Args, want) {
			t.Errorf("cpus %d: args %q, want %q", tc.cpus, cmd.Args, want)
		}
		if cmd.Dir != dir {
			t.Errorf("cpus %d: dir %q, want %q", tc.cpus, cmd.Dir, dir)
		}
		if a := cmd.SysProcAttr; a == nil || !a.Setpgid || a.Pdeathsig == 0 {
			t.Errorf("cpus %d: SysProcAttr %+v, want Setpgid and Pdeathsig", tc.cpus, a)
		}
		switch {
		case tc.env == "" && cmd.Env != nil:
			t.Errorf("cpus %d: environment set (%d variables), want the driver's", tc.cpus, len(cmd.Env))
		case tc.env != "" && !slices.Contains(cmd.Env, tc.env):
			t.Errorf("cpus %d: environment lacks %s", tc.cpus, tc.env)
		}
	}
	if _, err := Command(Options{Impl: ImplExternal, Connect: "127.0.0.1:2181"}, dir, cfg); err == nil {
		t.Error("Command for an external ensemble: no error")
	}
}

// TestCommandJava checks the Java command: the heap and options asked
// for, no ActiveProcessorCount without a CPU share, log4j configured into
// the directory and zkbin's class path.
func TestCommandJava(t *testing.T) {
	needJava(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	cmd, err := Command(Options{Impl: ImplJava, ServerCPUs: -1, JavaHeap: "256m", JavaOpts: []string{"-XX:+UseSerialGC"}}, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(cmd.Args, " ")
	cp, _ := zkbin.DebianClasspath(zkbin.LogLog4j)
	for _, want := range []string{" -Xmx256m -XX:+UseSerialGC ", "-Dlog4j.configuration=file:" + filepath.Join(dir, "log4j.properties"),
		"-cp " + strings.Join(cp, ":") + " org.apache.zookeeper.server.quorum.QuorumPeerMain " + cfg} {
		if !strings.Contains(args, want) {
			t.Errorf("java command %q lacks %q", args, want)
		}
	}
	if strings.Contains(args, "ActiveProcessorCount") {
		t.Errorf("java command %q tells a CPU share, none was asked for", args)
	}
}
