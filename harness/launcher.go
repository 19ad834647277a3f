package harness

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/zkbench/zkbench/internal/zkbin"
)

// ErrJavaMissing is returned by Start when upstream Java ZooKeeper or a Java
// runtime is not installed; it is zkbin's, so tests that probe for Java
// with zkbin.FindJava and the harness say the same.
var ErrJavaMissing = zkbin.ErrJavaMissing

// launcher builds the command line of one server process.
type launcher interface {
	// argv returns the command line for s; it may write files into s.dir.
	argv(s *server) ([]string, error)
	// env returns the variables added to s's environment.
	env(s *server) []string
	// isJava reports whether s is a Java server, whose config carries
	// Java-only keys.
	isJava(s *server) bool
}

// newLauncher returns the launcher of o.Impl, ImplGo, ImplJava or
// ImplMixed; o has its defaults.
func newLauncher(o *Options) (launcher, error) {
	switch o.Impl {
	case ImplGo:
		return goLauncher{prefix: o.GoCommand, cpus: o.ServerCPUs, flags: o.JVMFlags}, nil
	case ImplJava:
		return newJavaLauncher(o)
	case ImplMixed:
		impls, err := ParsePlacement(o.Placement, o.Servers+o.Observers)
		if err != nil {
			return nil, err
		}
		m := mixedLauncher{impl: impls, goL: goLauncher{prefix: o.GoCommand, cpus: o.ServerCPUs, flags: o.JVMFlags}}
		if slices.Contains(slices.Collect(maps.Values(impls)), ImplJava) {
			if m.javaL, err = newJavaLauncher(o); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("harness: impl %q launches no process", o.Impl)
}

// ParsePlacement reads a mixed ensemble's placement, "go=2,java=1": how
// many of n servers run each implementation, ids given in the order
// listed. It returns each id's implementation.
func ParsePlacement(placement string, n int) (map[int]string, error) {
	impls := map[int]string{}
	id := 1
	for _, part := range strings.Split(placement, ",") {
		name, count, ok := strings.Cut(strings.TrimSpace(part), "=")
		k, err := strconv.Atoi(count)
		switch {
		case !ok || err != nil || k < 0:
			return nil, fmt.Errorf("harness: placement %q: %q is not impl=count (e.g. go=2,java=1)", placement, part)
		case name != ImplGo && name != ImplJava:
			return nil, fmt.Errorf("harness: placement %q: implementation %q: want go or java", placement, name)
		case slices.Contains(slices.Collect(maps.Values(impls)), name):
			return nil, fmt.Errorf("harness: placement %q names %s twice", placement, name)
		}
		for ; k > 0; k-- {
			impls[id] = name
			id++
		}
	}
	if id-1 != n {
		return nil, fmt.Errorf("harness: placement %q places %d servers, the ensemble has %d", placement, id-1, n)
	}
	return impls, nil
}

// mixedLauncher runs each server with the launcher of its implementation.
type mixedLauncher struct {
	impl  map[int]string // server id -> ImplGo or ImplJava
	goL   goLauncher
	javaL *javaLauncher // nil when no server runs Java
}

func (m mixedLauncher) of(s *server) launcher {
	if m.impl[s.id] == ImplJava {
		return m.javaL
	}
	return m.goL
}

func (m mixedLauncher) argv(s *server) ([]string, error) { return m.of(s).argv(s) }

func (m mixedLauncher) env(s *server) []string { return m.of(s).env(s) }

func (m mixedLauncher) isJava(s *server) bool { return m.impl[s.id] == ImplJava }

// command is the command that starts server s with l: every server process
// the harness or Command launches is made here.
func command(l launcher, s *server) (*exec.Cmd, error) {
	argv, err := l.argv(s)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if env := l.env(s); len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Dir = s.dir
	cmd.SysProcAttr = sysProcAttr()
	return cmd, nil
}

// Command returns the command that starts one server of o.Impl (ImplGo or
// ImplJava) on the config file cfgPath as Start starts each of its own:
// the same command line and environment (o's defaults apply; a negative
// o.ServerCPUs leaves the runtime its own CPU count), working directory
// dir, where a Java server also writes its log configuration and its log
// (server.log), its own process group and Pdeathsig=SIGKILL, which fires
// when the OS thread that starts it exits. The caller sets its output,
// starts it and kills it by PID. It is how internal/zktest launches the
// servers of tests.
func Command(o Options, dir, cfgPath string) (*exec.Cmd, error) {
	if err := o.withDefaults(); err != nil {
		return nil, err
	}
	l, err := newLauncher(&o)
	if err != nil {
		return nil, err
	}
	return command(l, &server{dir: dir, cfgPath: cfgPath})
}

// goLauncher runs the Go zkserver: GoCommand followed by the config path,
// with GOMAXPROCS set to cpus when it is positive.
type goLauncher struct {
	prefix []string
	cpus   int
	flags  []string // SERVER_JVMFLAGS
}

func (g goLauncher) argv(s *server) ([]string, error) {
	return append(append([]string(nil), g.prefix...), s.cfgPath), nil
}

func (g goLauncher) env(*server) []string {
	var env []string
	if g.cpus > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(g.cpus))
	}
	if len(g.flags) > 0 {
		env = append(env, "SERVER_JVMFLAGS="+strings.Join(g.flags, " "))
	}
	return env
}

func (goLauncher) isJava(*server) bool { return false }

// javaLauncher runs upstream ZooKeeper as QuorumPeerMain.
type javaLauncher struct {
	bin, classpath, heap string
	opts                 []string
	cpus                 int // -XX:ActiveProcessorCount when positive
}

func newJavaLauncher(o *Options) (*javaLauncher, error) {
	j := &javaLauncher{heap: o.JavaHeap, opts: slices.Concat(o.JavaOpts, o.JVMFlags), classpath: o.JavaClasspath, cpus: o.ServerCPUs}
	bin, err := zkbin.JavaRuntime(o.JavaBin)
	if err != nil {
		return nil, fmt.Errorf("harness: %w; or set Options.JavaBin", err)
	}
	j.bin = bin
	if j.classpath != "" {
		return j, nil
	}
	if o.JavaHome != "" {
		var jars []string
		for _, pat := range []string{"*.jar", "lib/*.jar"} {
			m, _ := filepath.Glob(filepath.Join(o.JavaHome, pat))
			jars = append(jars, m...)
		}
		if len(jars) == 0 {
			return nil, fmt.Errorf("harness: %w: no jars in %s or %s/lib (Options.JavaHome)", ErrJavaMissing, o.JavaHome, o.JavaHome)
		}
		sort.Strings(jars)
		j.classpath = strings.Join(jars, ":")
		return j, nil
	}
	cp, err := zkbin.DebianClasspath(zkbin.LogLog4j)
	if err != nil {
		return nil, fmt.Errorf("harness: %w; or set Options.JavaHome", err)
	}
	j.classpath = strings.Join(cp, ":")
	return j, nil
}

func (*javaLauncher) isJava(*server) bool { return true }

func (*javaLauncher) env(*server) []string { return nil }

func (j *javaLauncher) argv(s *server) ([]string, error) {
	logFile := filepath.Join(s.dir, "server.log")
	log4j := fmt.Sprintf(`log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=%s
log4j.appender.FILE.Append=true
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%%d{ISO8601} [myid:%%X{myid}] %%-5p [%%t:%%C{1}@%%L] - %%m%%n
`, logFile)
	// ZooKeeper 3.8 tarballs log through logback instead of log4j.
	logback := fmt.Sprintf(`<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>%s</file>
    <encoder><pattern>%%d{ISO8601} [myid:%%X{myid}] %%-5p [%%t:%%C{1}@%%L] - %%m%%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
`, logFile)
	l4 := filepath.Join(s.dir, "log4j.properties")
	lb := filepath.Join(s.dir, "logback.xml")
	if err := os.WriteFile(l4, []byte(log4j), 0o644); err != nil {
		return nil, fmt.Errorf("harness: server %d: %w", s.id, err)
	}
	if err := os.WriteFile(lb, []byte(logback), 0o644); err != nil {
		return nil, fmt.Errorf("harness: server %d: %w", s.id, err)
	}
	args := []string{j.bin, "-Xmx" + j.heap}
	if j.cpus > 0 {
		args = append(args, "-XX:ActiveProcessorCount="+strconv.Itoa(j.cpus))
	}
	args = append(args, j.opts...)
	args = append(args,
		"-Djava.net.preferIPv4Stack=true",
		"-Dlog4j.configuration=file:"+l4,
		"-Dlogback.configurationFile="+lb,
		"-Dzookeeper.log.dir="+s.dir,
		"-cp", j.classpath,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", s.cfgPath)
	return args, nil
}
