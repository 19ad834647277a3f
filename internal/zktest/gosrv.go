package zktest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server"
	"github.com/zkbench/zkbench/server/config"
)

// StartGo runs a standalone Go server in-process with extra zoo.cfg lines,
// stopping it in t.Cleanup.
func StartGo(t testing.TB, extra ...string) *Server {
	t.Helper()
	dir, cfgPath, addr := standaloneConfig(t, false, extra)
	cfg, err := config.Load(cfgPath, nil)
	must(t, err)
	var logOut io.Writer = io.Discard
	if os.Getenv("ZKTEST_LOG") != "" {
		logOut = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, cfg, server.Options{Logger: log}) }()
	s := &Server{Addr: addr, Dir: dir}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("zktest: go server: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("zktest: go server did not stop within 10s")
		}
	})
	if err := WaitServing(s.Addr, 10*time.Second); err != nil {
		select {
		case err2 := <-done:
			t.Fatalf("zktest: go server exited: %v", err2)
		default:
		}
		t.Fatalf("zktest: go server: %v", err)
	}
	return s
}
