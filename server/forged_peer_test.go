package server_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/transport"
	"github.com/zkbench/zkbench/server/zab"
)

// peerPorts reads server i's quorum and election ports from its zoo.cfg.
func peerPorts(t *testing.T, e *zktest.Ensemble, i int) (quorum, election string) {
	t.Helper()
	cfg, err := os.ReadFile(e.Servers[i].CfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(fmt.Sprintf(`(?m)^server\.%d=([^:]+):(\d+):(\d+)`, i+1)).FindStringSubmatch(string(cfg))
	if m == nil {
		t.Fatalf("no server.%d line in\n%s", i+1, cfg)
	}
	return net.JoinHostPort(m[1], m[2]), net.JoinHostPort(m[1], m[3])
}

// srvrZxid returns the zxid server i reports in srvr.
func srvrZxid(t *testing.T, e *zktest.Ensemble, i int) int64 {
	t.Helper()
	out, err := zktest.FourLetterWord(e.Servers[i].Addr, "srvr", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Zxid: 0x"); ok {
			z, err := strconv.ParseInt(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return z
		}
	}
	t.Fatalf("no Zxid in srvr:\n%s", out)
	return 0
}

// forgeLearner connects to a leader's quorum port and sends FOLLOWERINFO
// as server sid with the given accepted epoch; it keeps the connection
// open, reading and never answering, until the test ends.
func forgeLearner(t *testing.T, addr string, sid, acceptedEpoch int64) {
	t.Helper()
	qc, err := transport.DialQuorum(t.Context(), addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { qc.Close() })
	info := binary.BigEndian.AppendUint64(nil, uint64(sid))
	info = binary.BigEndian.AppendUint32(info, zab.ProtocolVersion)
	info = binary.BigEndian.AppendUint64(info, 0)
	if err := qc.Send(&proto.QuorumPacket{Type: zab.TypeFollowerInfo, Zxid: zab.Zxid(acceptedEpoch, 0), Data: info}); err != nil {
		t.Fatal(err)
	}
	if err := qc.Flush(); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			if _, err := qc.Recv(); err != nil {
				return
			}
		}
	}()
}

// A client speaking the peer protocols by hand, claiming server ids it
// does not have, cannot unseat a 3-server Go ensemble's leader: not with
// FOLLOWERINFO from an unknown sid with a later epoch, not by claiming the
// live followers' ids on the quorum port; and an unknown lower id on the
// election port is not called back at an address it announces on another
// host.
func TestIntegrationForgedPeerCannotUnseatLeader(t *testing.T) {
	e := zktest.StartEnsemble(t, 3)
	li := e.Leader(10 * time.Second)
	if li < 0 {
		t.Fatal("no leader")
	}
	epoch := zab.EpochOf(srvrZxid(t, e, li))
	quorum, election := peerPorts(t, e, li)

	// The election port: an unknown id below the leader's (0 is below
	// every myid) announcing an address this test listens on, on another
	// host (127.0.0.2; the call comes from 127.0.0.1).
	target, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	c, err := net.Dial("tcp", election)
	if err != nil {
		t.Fatal(err)
	}
	addr := target.Addr().String()
	version := transport.ProtocolVersion
	hdr := binary.BigEndian.AppendUint64(nil, uint64(version))
	hdr = binary.BigEndian.AppendUint64(hdr, 0)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(addr)))
	c.Write(append(hdr, addr...))
	defer c.Close()

	// The quorum port: an unknown sid with a far later epoch, then each
	// live follower's id.
	forgeLearner(t, quorum, 9, epoch+1000)
	for i := range e.Servers {
		if i != li {
			forgeLearner(t, quorum, int64(i+1), epoch)
		}
	}

	// Several syncLimits (5 ticks of 200 ms) later, nothing changed.
	target.(*net.TCPListener).SetDeadline(time.Now().Add(3 * time.Second))
	if back, err := target.Accept(); err == nil {
		back.Close()
		t.Error("the leader dialled the address an unknown election caller announced")
	}
	for i := range e.Servers {
		want := "follower"
		if i == li {
			want = "leader"
		}
		if m := e.Mode(i); m != want {
			t.Errorf("server %d is %q after the forged peers, want %s", i+1, m, want)
		}
	}
	if got := zab.EpochOf(srvrZxid(t, e, li)); got != epoch {
		t.Errorf("epoch %d after the forged peers, want %d: the ensemble re-elected", got, epoch)
	}
	zc, _, err := zk.Connect(e.Addrs(), 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	if _, err := zc.Create("/after-forgery", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Errorf("write after the forged peers: %v", err)
	}
	if got := zab.EpochOf(srvrZxid(t, e, li)); got != epoch {
		t.Errorf("epoch %d after the write, want %d", got, epoch)
	}
}
