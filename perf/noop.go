package perf

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// startNoops starts n no-op responders answering getData with valueSize
// bytes, each a direct child of this process in its session (as the
// harness starts servers), and returns their addresses, their PIDs and a
// function that kills them all and waits for them.
func startNoops(ctx context.Context, command []string, n, valueSize int) ([]string, []int, func(), error) {
	var cmds []*exec.Cmd
	stop := func() {
		for _, cmd := range cmds {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	var addrs []string
	var pids []int
	for i := 0; i < n; i++ {
		addr, err := freeAddr()
		if err != nil {
			stop()
			return nil, nil, nil, err
		}
		argv := append(append([]string(nil), command...), "--addr", addr, "--value-size", strconv.Itoa(valueSize))
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			stop()
			return nil, nil, nil, fmt.Errorf("perf: start no-op responder %q: %w", argv, err)
		}
		cmds = append(cmds, cmd)
		addrs = append(addrs, addr)
		pids = append(pids, cmd.Process.Pid)
	}
	for _, addr := range addrs {
		if err := waitListening(ctx, addr, 10*time.Second); err != nil {
			stop()
			return nil, nil, nil, err
		}
	}
	return addrs, pids, stop, nil
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("perf: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitListening waits until addr accepts connections.
func waitListening(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("perf: no-op responder at %s: not listening after %v: %w", addr, limit, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("perf: waiting for no-op responder at %s: %w", addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
