package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server"
	"github.com/zkbench/zkbench/server/config"
)

// A Config without a client port (built in code, or parsed without its
// dynamic file) must not make Run bind a port nobody configured: it used
// to listen on a random port on all interfaces.
func TestRunRefusesUnconfiguredClientPort(t *testing.T) {
	for _, ensemble := range []bool{false, true} {
		dir := t.TempDir()
		text := "tickTime=2000\nclientPort=2181\ndataDir=" + dir + "\n"
		if ensemble {
			text += "initLimit=5\nsyncLimit=2\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\n"
		}
		cfg, err := config.Parse(strings.NewReader(text), "zoo.cfg", nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MyID = 1
		cfg.ClientPort = 0
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var bound string
		err = server.Run(ctx, cfg, server.Options{Ready: func(addr string) { bound = addr }})
		cancel()
		if err == nil || !strings.Contains(err.Error(), "no client port is configured") {
			t.Errorf("ensemble %v: Run returned %v, want a refusal", ensemble, err)
		}
		if bound != "" {
			t.Errorf("ensemble %v: bound %s", ensemble, bound)
		}
		if _, err := os.Stat(filepath.Join(dir, "version-2")); err == nil {
			t.Errorf("ensemble %v: the data dir was touched before the refusal", ensemble)
		}
	}
}
