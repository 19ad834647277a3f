package server_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server/election"
	"github.com/zkbench/zkbench/server/transport"
)

// A server the election made leader but that no voter follows (they chose
// another leader: FLE can split) concedes within about discoveryWait and
// elects again, instead of waiting out initLimit (20 s here). Servers 2 and
// 3 are played by hand on the election port: they vote for server 1, then
// never connect to its quorum port.
func TestIntegrationSplitDecisionConcedes(t *testing.T) {
	bin := zktest.BuildZkserver(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	elect := map[int64]string{}
	var lines []string
	for id := int64(1); id <= 3; id++ {
		q, e := zktest.FreePort(t), zktest.FreePort(t)
		elect[id] = fmt.Sprintf("127.0.0.1:%d", e)
		lines = append(lines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", id, q, e))
	}
	cfg := filepath.Join(dir, "zoo.cfg")
	text := fmt.Sprintf("tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n%s\n",
		data, zktest.FreePort(t), strings.Join(lines, "\n"))
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fakes := map[int64]*transport.TCP{}
	for _, id := range []int64{2, 3} {
		tr, err := transport.NewTCP(ctx, transport.TCPConfig{MyID: id, ListenAddr: elect[id], Peers: elect})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		fakes[id] = tr
	}

	logPath := filepath.Join(dir, "zkserver.log")
	out, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "start-foreground", cfg)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		out.Close()
	})

	// Vote for server 1 in whatever round it looks in; record its rounds.
	firstRound := int64(-1)
	deadline := time.After(10 * time.Second)
	start := time.Now()
	for {
		select {
		case m := <-fakes[2].Recv():
			n, _, err := election.DecodeNotification(m.Payload)
			if err != nil || m.From != 1 || n.State != election.Looking {
				continue
			}
			if firstRound < 0 {
				firstRound = n.Vote.ElectionEpoch
				start = time.Now()
			} else if n.Vote.ElectionEpoch > firstRound {
				took := time.Since(start)
				log, _ := os.ReadFile(logPath)
				if !strings.Contains(string(log), "no quorum of voters connected") {
					t.Fatalf("server 1 looked again (round %d) without conceding its reign:\n%s", n.Vote.ElectionEpoch, log)
				}
				t.Logf("server 1 conceded and looked again after %v (initLimit is 20 s)", took.Round(time.Millisecond))
				return
			}
			for _, id := range []int64{2, 3} {
				v := n.Vote // agree with server 1's own vote for itself
				fakes[id].Send(1, election.EncodeNotification(election.Notification{
					From: id, To: 1, State: election.Looking, Vote: v, Version: election.NotificationVersion}, nil))
			}
		case <-fakes[3].Recv():
		case <-deadline:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("server 1 did not look again within 10 s (first round %d):\n%s", firstRound, log)
		}
	}
}
