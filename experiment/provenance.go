package experiment

import (
	"debug/buildinfo"
	"os"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/version"
	"github.com/zkbench/zkbench/internal/zkbin"
)

// ServerVersion names the build of the servers h launches, for
// results.Ensemble.Version: "zkbench <version>" for Go servers run from
// this binary, the module, version and revision a Go server binary
// carries (debug/buildinfo), "zookeeper <version>" for upstream's jar;
// "" when unknown (an external ensemble, a binary without build info).
func ServerVersion(h harness.Options) string {
	switch h.Impl {
	case harness.ImplJava:
		if v, err := zkbin.JarVersion(zkbin.ZookeeperJar); err == nil {
			return "zookeeper " + v
		}
	case harness.ImplGo:
		if len(h.GoCommand) == 0 {
			return ""
		}
		if self, err := os.Executable(); err == nil && self == h.GoCommand[0] {
			return "zkbench " + version.Get().String()
		}
		bi, err := buildinfo.ReadFile(h.GoCommand[0])
		if err != nil {
			return ""
		}
		v := bi.Main.Path + " " + bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v += " " + s.Value
			}
		}
		return v
	}
	return ""
}
