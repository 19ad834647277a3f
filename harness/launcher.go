package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrJavaMissing is returned by Start when upstream Java ZooKeeper or a Java
// runtime is not installed.
var ErrJavaMissing = errors.New("harness: Java ZooKeeper is not installed")

// launcher builds the command line of one server process.
type launcher interface {
	// argv returns the command line for s; it may write files into s.dir.
	argv(s *server) ([]string, error)
	// env returns the variables added to the server's environment.
	env() []string
	// isJava reports whether configs should carry Java-only keys.
	isJava() bool
}

// goLauncher runs the Go zkserver: GoCommand followed by the config path,
// with GOMAXPROCS set to cpus when it is positive.
type goLauncher struct {
	prefix []string
	cpus   int
}

func (g goLauncher) argv(s *server) ([]string, error) {
	return append(append([]string(nil), g.prefix...), s.cfgPath), nil
}

func (g goLauncher) env() []string {
	if g.cpus <= 0 {
		return nil
	}
	return []string{"GOMAXPROCS=" + strconv.Itoa(g.cpus)}
}

func (goLauncher) isJava() bool { return false }

// debianJars are the jars Debian's zookeeper package needs on the class path
// besides what zookeeper.jar's manifest names: the log4j binding and log4j.
var debianJars = []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-log4j12.jar", "log4j-1.2.jar"}

const debianJavaDir = "/usr/share/java"

// javaLauncher runs upstream ZooKeeper as QuorumPeerMain.
type javaLauncher struct {
	bin, classpath, heap string
	opts                 []string
	cpus                 int // -XX:ActiveProcessorCount when positive
}

func newJavaLauncher(o *Options) (*javaLauncher, error) {
	j := &javaLauncher{bin: o.JavaBin, heap: o.JavaHeap, opts: o.JavaOpts, classpath: o.JavaClasspath, cpus: o.ServerCPUs}
	if j.bin == "" {
		j.bin = "java"
	}
	p, err := exec.LookPath(j.bin)
	if err != nil {
		return nil, fmt.Errorf("%w: no Java runtime (%s): install it with `apt-get install -y zookeeper` (which brings a JRE) or set Options.JavaBin", ErrJavaMissing, j.bin)
	}
	j.bin = p
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
			return nil, fmt.Errorf("%w: no jars in %s or %s/lib (Options.JavaHome)", ErrJavaMissing, o.JavaHome, o.JavaHome)
		}
		sort.Strings(jars)
		j.classpath = strings.Join(jars, ":")
		return j, nil
	}
	var cp []string
	for _, jar := range debianJars {
		p := filepath.Join(debianJavaDir, jar)
		if _, err := os.Stat(p); err != nil {
			if jar == "zookeeper.jar" {
				return nil, fmt.Errorf("%w: %s is missing; install it with `apt-get install -y zookeeper` or set Options.JavaHome", ErrJavaMissing, p)
			}
			continue // logging jars are optional: without them the log is lost
		}
		cp = append(cp, p)
	}
	j.classpath = strings.Join(cp, ":")
	return j, nil
}

func (*javaLauncher) isJava() bool { return true }

func (*javaLauncher) env() []string { return nil }

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
