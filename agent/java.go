package agent

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/zkbench/zkbench/harness"
	"github.com/zkbench/zkbench/internal/zkbin"
)

// JavaFacts say whether an agent can run upstream Java ZooKeeper servers,
// and which.
type JavaFacts struct {
	// Home is the ZooKeeper home the agent was given ("" for Debian's jars,
	// found as the harness finds them).
	Home string `json:"home,omitempty"`
	// ZooKeeper is the version of upstream's server jar ("" when its
	// pom.properties does not say), Runtime the Java runtime's (from its
	// release file) and Bin its path.
	ZooKeeper string `json:"zookeeper,omitempty"`
	Runtime   string `json:"runtime,omitempty"`
	Bin       string `json:"bin,omitempty"`
	// Error says why the agent cannot run Java servers ("" when it can).
	Error string `json:"error,omitempty"`
}

// OK reports whether the agent can run Java servers.
func (j *JavaFacts) OK() bool { return j != nil && j.Error == "" }

// String describes j for messages: the versions, or why there are no
// Java servers.
func (j *JavaFacts) String() string {
	switch {
	case j == nil:
		return "no Java servers (the agent takes no server role)"
	case j.Error != "":
		return j.Error
	}
	return fmt.Sprintf("ZooKeeper %s on Java %s", orUnknown(j.ZooKeeper), orUnknown(j.Runtime))
}

func orUnknown(s string) string {
	if s == "" {
		return "(version unknown)"
	}
	return s
}

// javaOptions are the harness options that launch a Java server from home.
func javaOptions(home, heap string) harness.Options {
	return harness.Options{Impl: harness.ImplJava, JavaHome: home, JavaHeap: heap, ServerCPUs: -1}
}

// ProbeJava says whether Java servers can be launched from home (a
// ZooKeeper installation; "" means Debian's jars): it builds the command
// the agent would run with harness.Command, which finds the runtime and
// the jars as every Java launch of the harness does, and reads the
// versions from the server jar (zkbin.JarVersion) and the runtime's
// release file (no JVM is started).
func ProbeJava(home string) *JavaFacts {
	j := &JavaFacts{Home: home}
	dir, err := os.MkdirTemp("", "zkbench-agent-java-")
	if err != nil {
		j.Error = err.Error()
		return j
	}
	defer os.RemoveAll(dir)
	cmd, err := harness.Command(javaOptions(home, ""), dir, filepath.Join(dir, "zoo.cfg"))
	if err != nil {
		j.Error = err.Error()
		return j
	}
	j.Bin = cmd.Path
	if i := slices.Index(cmd.Args, "-cp"); i >= 0 && i+1 < len(cmd.Args) {
		j.ZooKeeper = zookeeperVersion(strings.Split(cmd.Args[i+1], ":"))
	}
	j.Runtime = javaRuntimeVersion(cmd.Path)
	return j
}

// serverJar matches upstream's server jar: Debian's zookeeper.jar, a
// release's lib/zookeeper-3.8.4.jar (not zookeeper-jute-*.jar).
var serverJar = regexp.MustCompile(`^zookeeper(-\d+\.\d+\.\d+)?\.jar$`)

// zookeeperVersion returns the version of upstream's server jar on the
// class path, as zkbin.JarVersion reads it for one-machine results ("" if
// none says).
func zookeeperVersion(cp []string) string {
	for _, p := range cp {
		if !serverJar.MatchString(filepath.Base(p)) {
			continue
		}
		if v, err := zkbin.JarVersion(p); err == nil {
			return v
		}
	}
	return ""
}

// javaRuntimeVersion reads JAVA_VERSION from the release file of the
// runtime that bin belongs to ("" when there is none).
func javaRuntimeVersion(bin string) string {
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return ""
	}
	f, err := os.Open(filepath.Join(filepath.Dir(filepath.Dir(real)), "release"))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "JAVA_VERSION="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
