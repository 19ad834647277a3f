package flw

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// Replies captured from Debian's ZooKeeper 3.8.0.
const debianSrvr = "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n" +
	"Latency min/avg/max: 0/0.4545/3\nReceived: 12\nSent: 11\nConnections: 1\nOutstanding: 0\n" +
	"Zxid: 0x300000002\nMode: follower\nNode count: 5\n"

const debianStat = "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\nClients:\n" +
	" /127.0.0.1:42506[0](queued=0,recved=1,sent=0)\n\nLatency min/avg/max: 0/0.0/0\nReceived: 3\n" +
	"Sent: 3\nConnections: 1\nOutstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 5\n"

func TestParseSrvr(t *testing.T) {
	s, err := ParseSrvr([]byte(debianSrvr))
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != "3.8.0-${mvngit.commit.id}" || s.BuildDate != "2024-12-29 17:54 UTC" {
		t.Errorf("version %q date %q", s.Version, s.BuildDate)
	}
	if s.Mode != ModeFollower || !s.Mode.Serving() {
		t.Errorf("mode %q", s.Mode)
	}
	if s.Zxid != 0x300000002 || s.Epoch() != 3 || s.Counter() != 2 {
		t.Errorf("zxid %#x epoch %d counter %d", s.Zxid, s.Epoch(), s.Counter())
	}
	if s.MinLatency != 0 || s.AvgLatency != 0.4545 || s.MaxLatency != 3 {
		t.Errorf("latency %v/%v/%v", s.MinLatency, s.AvgLatency, s.MaxLatency)
	}
	if s.Received != 12 || s.Sent != 11 || s.Connections != 1 || s.Outstanding != 0 || s.NodeCount != 5 {
		t.Errorf("counters %+v", s)
	}
}

func TestParseStat(t *testing.T) {
	s, err := ParseSrvr([]byte(debianStat))
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode != ModeStandalone || len(s.Clients) != 1 || s.Received != 3 {
		t.Errorf("%+v", s)
	}
}

func TestParseSrvrErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not serving": "This ZooKeeper instance is not currently serving requests\n",
		"no mode":     "Zookeeper version: 3.8.0\nZxid: 0x0\n",
		"bad zxid":    "Zookeeper version: 3.8.0\nZxid: 0xzz\nMode: leader\n",
		"bad latency": "Zookeeper version: 3.8.0\nLatency min/avg/max: 1/2\nZxid: 0x0\nMode: leader\n",
		"garbage":     "hello world\n",
		"empty":       "",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSrvr([]byte(in))
			if err == nil {
				t.Fatal("no error")
			}
			if name == "not serving" && !errors.Is(err, ErrNotServing) {
				t.Fatalf("err %v, want ErrNotServing", err)
			}
		})
	}
}

func TestParseMntr(t *testing.T) {
	m, err := ParseMntr([]byte("zk_version\t3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\nzk_server_state\tleader\nzk_znode_count\t5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m["zk_server_state"] != "leader" || m["zk_znode_count"] != "5" || len(m) != 3 {
		t.Errorf("%v", m)
	}
	if _, err := ParseMntr([]byte("zk_version 3.8\n")); err == nil {
		t.Error("line without tab accepted")
	}
}

// serve answers each connection on a loopback listener with reply(word).
func serve(t *testing.T, reply func(word string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4)
				if _, err := c.Read(buf); err != nil {
					return
				}
				r := reply(string(buf))
				if r == "hang" {
					time.Sleep(2 * time.Second)
					return
				}
				c.Write([]byte(r))
			}()
		}
	}()
	return ln.Addr().String()
}

func TestAgainstFakeServer(t *testing.T) {
	ctx := context.Background()
	addr := serve(t, func(w string) string {
		switch w {
		case "srvr":
			return debianSrvr
		case "ruok":
			return "imok"
		case "mntr":
			return "zk_server_state\tfollower\n"
		case "cons":
			return "cons is not executed because it is not in the whitelist.\n"
		case "wchs":
			return "hang"
		case "envi":
			return ""
		}
		return ""
	})
	s, err := Srvr(ctx, addr, time.Second)
	if err != nil || s.Mode != ModeFollower {
		t.Fatalf("Srvr: %+v %v", s, err)
	}
	if err := Ruok(ctx, addr, time.Second); err != nil {
		t.Fatalf("Ruok: %v", err)
	}
	m, err := Mntr(ctx, addr, time.Second)
	if err != nil || m["zk_server_state"] != "follower" {
		t.Fatalf("Mntr: %v %v", m, err)
	}
	if _, err := Command(ctx, addr, "cons", time.Second); !errors.Is(err, ErrNotWhitelisted) {
		t.Fatalf("cons: %v, want ErrNotWhitelisted", err)
	}
	if _, err := Command(ctx, addr, "envi", time.Second); !errors.Is(err, ErrEmptyReply) {
		t.Fatalf("envi: %v, want ErrEmptyReply", err)
	}
	start := time.Now()
	if _, err := Command(ctx, addr, "wchs", 100*time.Millisecond); err == nil {
		t.Fatal("hanging server: no error")
	}
	if time.Since(start) > 1500*time.Millisecond {
		t.Fatal("timeout not honoured")
	}
}

func TestRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Srvr(context.Background(), addr, time.Second); err == nil {
		t.Fatal("closed port: no error")
	}
}
