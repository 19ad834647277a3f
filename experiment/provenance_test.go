package experiment

import (
	"os"
	"strings"
	"testing"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/version"
	"github.com/zkbench/zkbench/internal/zkbin"
)

// TestServerVersion: a result names the build of the servers it measured.
func TestServerVersion(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ServerVersion(harness.Options{Impl: harness.ImplGo, GoCommand: []string{self, "internal-zkserver", "start-foreground"}}), "zkbench "+version.Get().String(); got != want {
		t.Errorf("a Go server from this binary: %q, want %q", got, want)
	}
	jar, err := zkbin.JarVersion(zkbin.ZookeeperJar)
	if err != nil {
		t.Fatal(err)
	}
	if got := ServerVersion(harness.Options{Impl: harness.ImplJava}); got != "zookeeper "+jar {
		t.Errorf("Java: %q, want zookeeper %s", got, jar)
	}
	bin, err := zkbin.BuildZkserver()
	if err != nil {
		t.Fatal(err)
	}
	if got := ServerVersion(harness.Options{Impl: harness.ImplGo, GoCommand: []string{bin, "start-foreground"}}); !strings.HasPrefix(got, "github.com/zkbench/zkbench ") {
		t.Errorf("a zkserver binary: %q, want its module and version from its build info", got)
	}
	if got := ServerVersion(harness.Options{Impl: harness.ImplExternal, Connect: "h:1"}); got != "" {
		t.Errorf("external: %q, want unknown", got)
	}
}
