package zktest

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server/proto"
)

// StartConfigs launches one server per config file, each with its myid
// already in place — upstream Java ZooKeeper when java is true, zkserver
// otherwise — and waits until every one has a role. addrs are the client
// addresses, in the same order. Every process is killed in t.Cleanup.
func StartConfigs(t testing.TB, java bool, cfgPaths, addrs []string) *Ensemble {
	t.Helper()
	e := &Ensemble{}
	for i, cfg := range cfgPaths {
		p := NewProcess(t, java, cfg, addrs[i])
		p.launch()
		e.Servers = append(e.Servers, p)
	}
	e.WaitRoles(t, startWait)
	return e
}

// NewProcess returns a server for cfgPath (its myid already in place)
// whose client address is addr, without starting it: upstream Java
// ZooKeeper when java is true, zkserver otherwise. Start it with Start. Its
// logs go to the config file's directory, which must be its own. It is
// killed in t.Cleanup.
func NewProcess(t testing.TB, java bool, cfgPath, addr string) *Process {
	t.Helper()
	var bin string
	if java {
		RequireJava(t)
	} else {
		bin = BuildZkserver(t)
	}
	p := &Process{Addr: addr, Dir: filepath.Dir(cfgPath), CfgPath: cfgPath, bin: bin, t: t, java: java}
	t.Cleanup(p.Kill)
	return p
}

// AddAuth sends an addAuth request (xid -4) and returns the error code of
// its reply.
func (c *RawClient) AddAuth(scheme string, auth []byte) (proto.ErrCode, error) {
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	pkt := proto.AuthPacket{Scheme: scheme, Auth: auth}
	if _, err := c.nc.Write(proto.AppendRequest(nil, proto.RequestHeader{Xid: proto.XidAuth, Type: proto.OpAuth}, &pkt)); err != nil {
		return 0, err
	}
	for {
		h, _, err := c.next()
		if err != nil {
			return 0, fmt.Errorf("zktest: auth reply: %w", err)
		}
		if h.Xid == proto.XidAuth {
			return h.Err, nil
		}
	}
}

// Launch starts the process without waiting for it to serve; Start is
// Launch plus the wait.
func (p *Process) Launch() {
	p.t.Helper()
	p.launch()
}

// Running reports whether the process started last is still alive.
func (p *Process) Running() bool {
	pid := p.PID()
	return pid != 0 && syscall.Kill(pid, 0) == nil
}
