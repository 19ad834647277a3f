package zkbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestDebianJars(t *testing.T) {
	for l, binding := range map[Logging][]string{
		LogNone:   {"slf4j-nop.jar"},
		LogSimple: {"slf4j-simple.jar"},
		LogLog4j:  {"slf4j-log4j12.jar", "log4j-1.2.jar"},
	} {
		var want []string
		for _, j := range append([]string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "netty-codec.jar", "netty-resolver.jar"}, binding...) {
			want = append(want, filepath.Join(DebianJavaDir, j))
		}
		if got := DebianJars(l); !slices.Equal(got, want) {
			t.Errorf("DebianJars(%d) = %q, want %q", l, got, want)
		}
	}
	if DebianJars(LogLog4j)[0] != ZookeeperJar {
		t.Errorf("the class path does not start with %s", ZookeeperJar)
	}
}

// TestJavaMissing checks that a missing runtime is ErrJavaMissing, whose
// text says what to install.
func TestJavaMissing(t *testing.T) {
	if _, err := JavaRuntime("/nonexistent/java"); !errors.Is(err, ErrJavaMissing) {
		t.Errorf("JavaRuntime of a missing file: %v, want ErrJavaMissing", err)
	}
	t.Setenv("PATH", t.TempDir())
	_, err := FindJava(LogLog4j)
	if !errors.Is(err, ErrJavaMissing) {
		t.Fatalf("FindJava without java on PATH: %v, want ErrJavaMissing", err)
	}
	t.Logf("the error reads: %v", err)
}

// TestRemoveStale checks that the build directory of a process that is gone
// is deleted and that of a live one is kept.
func TestRemoveStale(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(os.TempDir(), fmt.Sprintf("zkbin-build-%d-1", gone.Process.Pid))
	live := filepath.Join(os.TempDir(), fmt.Sprintf("zkbin-build-%d-2", os.Getppid()))
	for _, d := range []string{dead, live} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	removeStale()
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead process's directory is still there (%v)", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the live process's directory went: %v", err)
	}
}
