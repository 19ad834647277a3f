// Package zkbin finds the two ZooKeeper servers that the harness and the
// tests run: upstream Java ZooKeeper as Debian's zookeeper package installs
// it (a java runtime on PATH and the jars under DebianJavaDir), and this
// module's Go zkserver, built once per process. It is the one place that
// knows either, and it imports nothing of the project, so the tests of any
// package (server/config's included) can use it.
package zkbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// DebianJavaDir is where Debian's zookeeper package installs upstream's
// jars and the logging jars it depends on.
const DebianJavaDir = "/usr/share/java"

// ZookeeperJar is upstream's server jar. Its manifest's Class-Path names
// the libraries it needs (jute, slf4j-api, netty, ...) but no SLF4J
// binding, so run alone it logs nothing.
const ZookeeperJar = DebianJavaDir + "/zookeeper.jar"

// ErrJavaMissing says how to get upstream Java ZooKeeper. Every error of
// JavaRuntime, DebianClasspath and FindJava wraps it.
var ErrJavaMissing = errors.New("upstream Java ZooKeeper is not installed: run `apt-get install -y zookeeper` (CI's .ci/run does)")

// Logging is the SLF4J binding put on upstream's class path, which decides
// where upstream's log goes.
type Logging int

// The bindings.
const (
	// LogNone discards the log (slf4j-nop): for tools whose output is read.
	LogNone Logging = iota
	// LogSimple writes it to stderr (slf4j-simple).
	LogSimple
	// LogLog4j sends it through log4j 1.2, configured by
	// -Dlog4j.configuration: for servers, whose log goes to a file.
	LogLog4j
)

// coreJars are upstream's jars every use needs, named explicitly although
// zookeeper.jar's manifest names the last two.
var coreJars = []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar"}

// jars returns the jar names of binding l.
func (l Logging) jars() []string {
	switch l {
	case LogSimple:
		return []string{"slf4j-simple.jar"}
	case LogLog4j:
		return []string{"slf4j-log4j12.jar", "log4j-1.2.jar"}
	default:
		return []string{"slf4j-nop.jar"}
	}
}

// DebianJars returns the class path that runs upstream ZooKeeper from
// Debian's jars with binding l, without checking that the jars exist
// (DebianClasspath does).
func DebianJars(l Logging) []string {
	var cp []string
	for _, j := range append(append([]string(nil), coreJars...), l.jars()...) {
		cp = append(cp, filepath.Join(DebianJavaDir, j))
	}
	return cp
}

// DebianClasspath is DebianJars, each jar checked to exist.
func DebianClasspath(l Logging) ([]string, error) {
	cp := DebianJars(l)
	for _, p := range cp {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w (missing %s)", ErrJavaMissing, p)
		}
	}
	return cp, nil
}

// JavaRuntime looks bin up in PATH ("" means "java") and returns its path.
func JavaRuntime(bin string) (string, error) {
	if bin == "" {
		bin = "java"
	}
	p, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("%w (no Java runtime %q on PATH: %v)", ErrJavaMissing, bin, err)
	}
	return p, nil
}

// Java is what runs upstream ZooKeeper: a java executable and a class path.
type Java struct {
	Bin       string   // the java executable
	Classpath []string // the jars, in order
}

// ClasspathString is the class path as -cp takes it.
func (j Java) ClasspathString() string { return strings.Join(j.Classpath, ":") }

// FindJava finds java on PATH and Debian's jars with binding l: the one
// probe for "is upstream Java ZooKeeper installed". Tests report its error
// through internal/testenv.Missing.
func FindJava(l Logging) (Java, error) {
	bin, err := JavaRuntime("")
	if err != nil {
		return Java{}, err
	}
	cp, err := DebianClasspath(l)
	if err != nil {
		return Java{}, err
	}
	return Java{Bin: bin, Classpath: cp}, nil
}

// zkserverPkg is the Go server's main package.
const zkserverPkg = "github.com/zkbench/zkbench/cmd/zkserver"

var build struct {
	once sync.Once
	path string
	err  error
}

// BuildZkserver builds cmd/zkserver (CGO_ENABLED=0) the first time it is
// called in a process and returns the binary's path; later calls return
// the same path, or the same error: a failed build is an error for every
// caller, never a reason to test less. It must run inside this module. The
// binary lives in a temporary directory that RemoveZkserver deletes.
func BuildZkserver() (string, error) {
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "zkserver-build-")
		if err != nil {
			build.err = fmt.Errorf("zkbin: build zkserver: %w", err)
			return
		}
		bin := filepath.Join(dir, "zkserver")
		cmd := exec.Command("go", "build", "-o", bin, zkserverPkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			build.err = fmt.Errorf("zkbin: go build %s: %w\n%s", zkserverPkg, err, out)
			return
		}
		build.path = bin
	})
	return build.path, build.err
}

// RemoveZkserver deletes the binary BuildZkserver built, if any; a
// TestMain calls it after m.Run. Later calls of BuildZkserver fail.
func RemoveZkserver() error {
	build.once.Do(func() { build.err = errors.New("zkbin: zkserver was removed") })
	if build.path == "" {
		return nil
	}
	err := os.RemoveAll(filepath.Dir(build.path))
	build.path, build.err = "", errors.New("zkbin: zkserver was removed")
	return err
}
