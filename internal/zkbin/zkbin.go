// Package zkbin finds the servers that the harness and the tests run:
// upstream Java ZooKeeper as Debian's zookeeper package installs it (a java
// runtime on PATH and the jars under DebianJavaDir; FindJava is the one
// probe), and this module's Go zkserver (and other main packages, such as
// cmd/zknoop), built once per process. It is the one place that knows
// either, and it imports nothing of the project, so the tests of any
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
	"syscall"
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
// zookeeper.jar's manifest names jute and slf4j-api. Debian's manifest
// leaves out Netty's codec and resolver jars, without which the Netty
// connection factory and client socket (TLS: secureClientPort,
// zookeeper.client.secure) fail with NoClassDefFoundError.
var coreJars = []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "netty-codec.jar", "netty-resolver.jar"}

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

// ZkserverPkg is the Go server's main package.
const ZkserverPkg = "github.com/zkbench/zkbench/cmd/zkserver"

// builds holds what Build built in this process, in one temporary
// directory.
var builds struct {
	mu   sync.Mutex
	dir  string
	bins map[string]*built
}

// built is one package's build, done once.
type built struct {
	once sync.Once
	path string
	err  error
}

// Build builds the main package pkg of this module (CGO_ENABLED=0) the
// first time it is asked for in a process and returns the binary's path;
// later calls return the same path, or the same error: a failed build is
// an error for every caller, never a reason to test less. It must run
// inside this module. The binaries live in a temporary directory named
// after the process, which RemoveBuilds deletes, and which a later Build
// in another process deletes once this one is gone.
func Build(pkg string) (string, error) {
	builds.mu.Lock()
	if builds.bins == nil {
		builds.bins = map[string]*built{}
	}
	b := builds.bins[pkg]
	if b == nil {
		b = &built{}
		builds.bins[pkg] = b
	}
	builds.mu.Unlock()
	b.once.Do(func() { b.path, b.err = goBuild(pkg) })
	return b.path, b.err
}

// BuildZkserver is Build(ZkserverPkg): the Go server the tests launch.
func BuildZkserver() (string, error) { return Build(ZkserverPkg) }

// goBuild runs go build for pkg into the builds' directory.
func goBuild(pkg string) (string, error) {
	builds.mu.Lock()
	if builds.dir == "" {
		removeStale()
		dir, err := os.MkdirTemp("", fmt.Sprintf("zkbin-build-%d-", os.Getpid()))
		if err != nil {
			builds.mu.Unlock()
			return "", fmt.Errorf("zkbin: build %s: %w", pkg, err)
		}
		builds.dir = dir
	}
	dir := builds.dir
	builds.mu.Unlock()
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("zkbin: go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// removeStale deletes the build directories of processes that are gone:
// a test binary whose package has no TestMain calling RemoveBuilds leaves
// its own behind.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "zkbin-build-*-*"))
	for _, d := range dirs {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(d), "zkbin-build-%d-", &pid); err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

// RemoveBuilds deletes every binary Build built; a TestMain calls it after
// m.Run. Builds asked for later start afresh.
func RemoveBuilds() error {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	dir := builds.dir
	builds.dir, builds.bins = "", nil
	if dir == "" {
		return nil
	}
	return os.RemoveAll(dir)
}
