package zktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/zkbin"
)

// BuildZkserver builds cmd/zkserver once per test binary (zkbin's build)
// and returns its path; a failed build fails the test.
func BuildZkserver(t testing.TB) string {
	t.Helper()
	bin, err := zkbin.BuildZkserver()
	if err != nil {
		t.Fatalf("zktest: %v", err)
	}
	return bin
}

// Process is a zkserver process a test controls: it can be killed with
// SIGKILL and started again on the same config and data.
type Process struct {
	Addr    string
	Dir     string
	CfgPath string
	bin     string
	t       testing.TB
	mu      sync.Mutex
	cmd     *exec.Cmd
	starts  int
	java    bool          // upstream Java ZooKeeper instead of zkserver
	exited  chan struct{} // closed when the process started last has exited
	code    int           // its exit code, once exited is closed
	// Env is added to the process's environment (e.g. SERVER_JVMFLAGS).
	Env []string
}

// StartProcess writes a standalone zoo.cfg (plus extra lines) into a fresh
// directory and starts zkserver on it. It is killed in t.Cleanup.
func StartProcess(t testing.TB, extra ...string) *Process {
	t.Helper()
	_, cfgPath, addr := standaloneConfig(t, false, extra)
	p := NewProcess(t, false, cfgPath, addr)
	p.Start()
	return p
}

// Start starts the process and waits until it serves.
func (p *Process) Start() {
	p.t.Helper()
	logPath := p.launch()
	if err := WaitMode(p.Addr, 20*time.Second); err != nil {
		log, _ := os.ReadFile(logPath)
		if keep := os.Getenv("ZKTEST_KEEP"); keep != "" {
			// The test's directories go with it: copy them for a post-mortem.
			out, cerr := exec.Command("cp", "-r", filepath.Dir(p.Dir), keep).CombinedOutput()
			p.t.Logf("zktest: copied %s to %s: %v %s", filepath.Dir(p.Dir), keep, cerr, out)
		}
		p.t.Fatalf("zktest: zkserver did not serve: %v\n%s", err, tail(log, 4000))
	}
}

// launch starts the process without waiting; it returns the log path.
func (p *Process) launch() string {
	p.t.Helper()
	cmd := serverCommand(p.t, p.java, p.bin, p.Dir, p.CfgPath)
	if !p.java && os.Getenv("ZKTEST_LOG") == "debug" {
		cmd.Args = append(cmd.Args, "--log-level=debug")
	}
	env := p.Env
	if !p.java && !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "SERVER_JVMFLAGS=") }) {
		// A test's own zoo.cfg would leave the Go server's AdminServer on
		// (upstream's default), binding 0.0.0.0:8080; a zoo.cfg key still
		// wins over this flag, as upstream's.
		env = append(slices.Clone(env), "SERVER_JVMFLAGS=-Dzookeeper.admin.enableServer=false")
	}
	if p.java {
		cmd.Args = withJVMFlags(cmd.Args, env)
	}
	if len(env) > 0 {
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(cmd.Env, env...)
	}
	p.mu.Lock()
	p.starts++
	logPath := filepath.Join(p.Dir, fmt.Sprintf("zkserver-%d.log", p.starts))
	out, err := os.Create(logPath)
	if err == nil {
		cmd.Stdout, cmd.Stderr = out, out
		if err = cmd.Start(); err != nil {
			out.Close()
		}
	}
	if err != nil {
		p.mu.Unlock() // Fatalf ends the goroutine; the cleanup's Kill locks
		p.t.Fatalf("zktest: start %s: %v", p.Dir, err)
	}
	p.cmd = cmd
	exited := make(chan struct{})
	p.exited = exited
	p.mu.Unlock()
	go func() {
		cmd.Wait()
		out.Close()
		p.mu.Lock()
		p.code = cmd.ProcessState.ExitCode()
		p.mu.Unlock()
		close(exited)
	}()
	return logPath
}

// withJVMFlags puts the words of SERVER_JVMFLAGS and then JVMFLAGS in env
// into a Java server's command line before its class path, as zkServer.sh
// passes them to java (after its own -D flags, so that they win).
func withJVMFlags(args, env []string) []string {
	var flags []string
	for _, name := range []string{"SERVER_JVMFLAGS=", "JVMFLAGS="} {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, name); ok {
				flags = append(flags, strings.Fields(v)...)
			}
		}
	}
	i := slices.Index(args, "-cp")
	if len(flags) == 0 || i < 0 {
		return args
	}
	return slices.Concat(args[:i:i], flags, args[i:])
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Process) Kill() {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	for i := 0; i < 500; i++ {
		if err := syscall.Kill(cmd.Process.Pid, 0); err != nil {
			return
		}
		runtime.Gosched()
		time.Sleep(2 * time.Millisecond)
	}
}

// WaitExit waits up to timeout for the process started last to exit by
// itself and returns its exit code (-1 if a signal ended it); ok is false
// if it is still running.
func (p *Process) WaitExit(timeout time.Duration) (code int, ok bool) {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	if exited == nil {
		return 0, false
	}
	select {
	case <-exited:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.code, true
	case <-time.After(timeout):
		return 0, false
	}
}

// LogText returns the output of the n-th start (1-based).
func (p *Process) LogText(n int) string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, fmt.Sprintf("zkserver-%d.log", n)))
	return string(b)
}

// Starts is how many times the process was started.
func (p *Process) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// PID is the running process's id, 0 when it is not running.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
