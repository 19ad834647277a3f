package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// procsMentioning returns the pids of live processes whose command line
// contains s (a run directory: every server's command line names it).
func procsMentioning(s string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) && pidAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// eventuallyDead waits up to 10s for every pid and every process naming dir
// to be gone.
func eventuallyDead(t *testing.T, pids []int, dir string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var alive []int
		for _, p := range pids {
			if pidAlive(p) {
				alive = append(alive, p)
			}
		}
		alive = append(alive, procsMentioning(dir)...)
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes outlived their run: %v", alive)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func javaOpts(dir string) Options {
	return Options{Impl: ImplJava, Servers: 1, RunDir: dir, TickTime: 500, JavaHeap: "128m",
		JavaOpts: []string{"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}}
}

func TestIntegration_CloseIsIdempotent(t *testing.T) {
	needJava(t)
	dir := t.TempDir()
	e, err := Start(context.Background(), javaOpts(dir))
	if err != nil {
		t.Fatal(err)
	}
	pids := allPIDs(e)
	if len(procsMentioning(dir)) != 1 {
		t.Fatalf("want one server process, found %v", procsMentioning(dir))
	}
	// Freeze first: Close must kill stopped processes too.
	if err := e.Freeze(1); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	eventuallyDead(t, pids, dir)
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := e.Restart(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Restart after Close: %v, want ErrClosed", err)
	}
}

func TestIntegration_PanicLeavesNothing(t *testing.T) {
	needJava(t)
	dir := t.TempDir()
	var pids []int
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		e, err := Start(context.Background(), javaOpts(dir))
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		pids = allPIDs(e)
		panic("boom")
	}()
	eventuallyDead(t, pids, dir)
}

func TestIntegration_CancelLeavesNothing(t *testing.T) {
	needJava(t)
	t.Run("after start", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		e, err := Start(ctx, javaOpts(dir))
		if err != nil {
			t.Fatal(err)
		}
		pids := allPIDs(e)
		cancel() // no Close: the context alone must end the ensemble
		eventuallyDead(t, pids, dir)
		if err := e.Kill(1); err == nil {
			t.Error("Kill after cancel: no error")
		}
	})
	t.Run("during start", func(t *testing.T) {
		dir := t.TempDir()
		o := javaOpts(dir)
		o.Servers = 3
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		defer cancel()
		_, err := Start(ctx, o)
		if err == nil {
			t.Skip("3 JVMs served within 400ms: cannot test a cancelled start on this machine")
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Start: %v, want DeadlineExceeded", err)
		}
		eventuallyDead(t, nil, dir)
	})
}

// TestIntegration_DriverDeath kills a driver process with SIGKILL and
// checks that Pdeathsig takes its servers with it.
func TestIntegration_DriverDeath(t *testing.T) {
	needJava(t)
	if os.Getenv("HARNESS_DRIVER_DIR") != "" {
		t.Skip("inside the helper")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDriver$", "-test.v")
	cmd.Env = append(os.Environ(), "HARNESS_DRIVER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var pid int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(strings.TrimSpace(sc.Text()), "SERVERPID %d", &pid); err == nil {
			break
		}
	}
	if pid == 0 || !pidAlive(pid) {
		t.Fatalf("helper did not report a live server (pid %d)", pid)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	eventuallyDead(t, []int{pid}, dir)
}

// TestHelperDriver is the driver that TestIntegration_DriverDeath kills.
func TestHelperDriver(t *testing.T) {
	dir := os.Getenv("HARNESS_DRIVER_DIR")
	if dir == "" {
		t.Skip("only run as TestIntegration_DriverDeath's helper")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := Start(ctx, javaOpts(dir))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("SERVERPID %d\n", e.Members()[0].PID)
	<-ctx.Done() // killed long before
	e.Close()
}

func TestIntegration_PortTakenRetries(t *testing.T) {
	needJava(t)
	dir := t.TempDir()
	o := javaOpts(dir)
	var held net.Listener
	var heldPort int
	o.afterPorts = func(attempt int, ports []int) {
		if attempt == 1 {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
			if err == nil {
				held, heldPort = ln, ports[0]
			}
		}
	}
	e, err := Start(testCtx(t, 60*time.Second), o)
	if held != nil {
		defer held.Close()
	}
	if err != nil {
		t.Fatalf("Start with its port taken: %v", err)
	}
	defer e.Close()
	if held == nil {
		t.Fatal("the test could not take the port")
	}
	m := e.Members()[0]
	if strings.HasSuffix(m.ClientAddr, fmt.Sprintf(":%d", heldPort)) || m.Role != RoleStandalone {
		t.Fatalf("member %+v still on the taken port %d", m, heldPort)
	}
	if len(allPIDs(e)) != 2 {
		t.Errorf("want 2 processes (the failed one and the retry), got %v", allPIDs(e))
	}
}

func TestJavaMissing(t *testing.T) {
	for _, o := range []Options{
		{Impl: ImplJava, JavaBin: "/nonexistent/java"},
		{Impl: ImplJava, JavaHome: t.TempDir()},
	} {
		_, err := Start(context.Background(), o)
		if !errors.Is(err, ErrJavaMissing) {
			t.Fatalf("%+v: %v, want ErrJavaMissing", o, err)
		}
		if o.JavaBin != "" && !strings.Contains(err.Error(), "apt-get install -y zookeeper") {
			t.Errorf("error does not say what to install: %v", err)
		}
	}
}

func TestIntegration_External(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	inner := startEnsemble(t, ctx, Options{Impl: ImplJava, Servers: 1})
	pid := inner.Members()[0].PID
	e, err := Start(ctx, Options{Impl: ImplExternal, Connect: inner.ConnectString(),
		External: ExternalCommands{Freeze: fmt.Sprintf("kill -STOP %d # {id} {host}", pid), Thaw: fmt.Sprintf("kill -CONT %d", pid)}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if m := e.Members(); len(m) != 1 || m[0].Role != RoleStandalone || m[0].PID != 0 {
		t.Fatalf("external members %+v", m)
	}
	if err := e.Freeze(1); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); procState(pid) != 'T' && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if procState(pid) != 'T' {
		t.Fatalf("freeze command did not stop %d", pid)
	}
	if err := e.Thaw(1); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitServing(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Kill(1); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Kill without a command: %v, want ErrUnavailable", err)
	}
	if err := e.Partition(1); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Partition on external: %v, want ErrUnavailable", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if !pidAlive(pid) {
		t.Error("closing an external ensemble killed its server")
	}
}
