package txnprep

import (
	"testing"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/quorum"
	"github.com/zkbench/zkbench/server/tree"
)

type fakeLeader struct {
	last       quorum.Members
	inProgress bool
	synced     map[int64]bool
}

func (f *fakeLeader) LastSeenMembers() (quorum.Members, bool) { return f.last, f.inProgress }

func (f *fakeLeader) QuorumSynced(m quorum.Members) bool {
	n := 0
	for _, id := range m.Voters() {
		if f.synced[id] {
			n++
		}
	}
	return n >= len(m.Voters())/2+1
}

func threeServers(t *testing.T) quorum.Members {
	m, err := quorum.ParseMembers("server.1=127.0.0.1:2001:3001:participant;127.0.0.1:4001\n" +
		"server.2=127.0.0.1:2002:3002:participant;127.0.0.1:4002\n" +
		"server.3=127.0.0.1:2003:3003:participant;127.0.0.1:4003\nversion=100000000")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func str(s string) *string { return &s }

// tenDot is a membership on a non-loopback network, where upstream checks
// addresses for duplicates.
func tenDot(t *testing.T) quorum.Members {
	m, err := quorum.ParseMembers("server.1=10.0.0.1:2001:3001:participant;10.0.0.1:4001\n" +
		"server.2=10.0.0.2:2002:3002:participant;10.0.0.2:4002\n" +
		"server.3=10.0.0.3:2003:3003:participant;10.0.0.3:4003\nversion=100000000")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The reconfig op's checks, in upstream's order, and the txn it makes.
func TestReconfig(t *testing.T) {
	super := []proto.ID{{Scheme: "super"}}
	add4 := "server.4=127.0.0.1:2004:3004:participant;127.0.0.1:4004"
	cases := []struct {
		name       string
		opts       func(o *Options, e *fakeLeader)
		req        proto.ReconfigRequest
		auth       []proto.ID
		want       proto.ErrCode
		wantConfig string
	}{
		{name: "disabled", opts: func(o *Options, _ *fakeLeader) { o.ReconfigEnabled = false },
			req: proto.ReconfigRequest{LeavingServers: "3", CurConfigID: -1}, auth: super, want: proto.ErrReconfigDisabled},
		{name: "standalone", opts: func(o *Options, _ *fakeLeader) { o.Leader = nil },
			req: proto.ReconfigRequest{LeavingServers: "3", CurConfigID: -1}, auth: super, want: proto.ErrUnimplemented},
		{name: "in progress", opts: func(_ *Options, e *fakeLeader) { e.inProgress = true },
			req: proto.ReconfigRequest{LeavingServers: "3", CurConfigID: -1}, auth: super, want: proto.ErrReconfigInProgress},
		{name: "stale version", req: proto.ReconfigRequest{LeavingServers: "3", CurConfigID: 0x99}, auth: super, want: proto.ErrBadVersion},
		{name: "no auth", req: proto.ReconfigRequest{LeavingServers: "3", CurConfigID: -1}, want: proto.ErrNoAuth},
		{name: "skipACL", opts: func(o *Options, _ *fakeLeader) { o.SkipACL = true },
			req: proto.ReconfigRequest{LeavingServers: "3", CurConfigID: 0x100000000}, want: proto.ErrOK,
			wantConfig: "server.1=127.0.0.1:2001:3001:participant;127.0.0.1:4001\n" +
				"server.2=127.0.0.1:2002:3002:participant;127.0.0.1:4002\nversion=200000005"},
		{name: "add", req: proto.ReconfigRequest{JoiningServers: add4, CurConfigID: -1}, auth: super, want: proto.ErrOK,
			wantConfig: "server.1=127.0.0.1:2001:3001:participant;127.0.0.1:4001\n" +
				"server.2=127.0.0.1:2002:3002:participant;127.0.0.1:4002\n" +
				"server.3=127.0.0.1:2003:3003:participant;127.0.0.1:4003\n" +
				"server.4=127.0.0.1:2004:3004:participant;127.0.0.1:4004\nversion=200000005"},
		{name: "add unsynced", opts: func(_ *Options, e *fakeLeader) { delete(e.synced, 2) },
			req:  proto.ReconfigRequest{JoiningServers: add4 + ",server.5=127.0.0.1:2005:3005:participant;4005", CurConfigID: -1},
			auth: super, want: proto.ErrNewConfigNoQuorum},
		{name: "no quorum left", req: proto.ReconfigRequest{LeavingServers: "1,2,3", CurConfigID: -1}, auth: super, want: proto.ErrBadArguments},
		{name: "one voter with standaloneEnabled", opts: func(o *Options, _ *fakeLeader) { o.StandaloneEnabled = true },
			req: proto.ReconfigRequest{LeavingServers: "2,3", CurConfigID: -1}, auth: super, want: proto.ErrBadArguments},
		{name: "wrong format", req: proto.ReconfigRequest{JoiningServers: "server.4", CurConfigID: -1}, auth: super, want: proto.ErrBadArguments},
		{name: "no client port", req: proto.ReconfigRequest{JoiningServers: "server.4=127.0.0.1:2004:3004", CurConfigID: -1}, auth: super, want: proto.ErrBadArguments},
		{name: "duplicate address", opts: func(_ *Options, e *fakeLeader) { e.last = tenDot(t) },
			req: proto.ReconfigRequest{JoiningServers: "server.4=10.0.0.1:2001:3004:participant;4004", CurConfigID: -1}, auth: super, want: proto.ErrBadArguments},
		{name: "duplicate loopback address", req: proto.ReconfigRequest{JoiningServers: "server.4=127.0.0.1:2001:3004:participant;127.0.0.1:4004", CurConfigID: -1},
			auth: super, want: proto.ErrOK,
			wantConfig: "server.1=127.0.0.1:2001:3001:participant;127.0.0.1:4001\n" +
				"server.2=127.0.0.1:2002:3002:participant;127.0.0.1:4002\n" +
				"server.3=127.0.0.1:2003:3003:participant;127.0.0.1:4003\n" +
				"server.4=127.0.0.1:2001:3004:participant;127.0.0.1:4004\nversion=200000005"},
		{name: "leaving not a number", req: proto.ReconfigRequest{LeavingServers: "three", CurConfigID: -1}, auth: super, want: proto.ErrMarshallingError},
		{name: "empty new members", req: proto.ReconfigRequest{NewMembers: str(""), CurConfigID: -1}, auth: super, want: proto.ErrMarshallingError},
		{name: "new members", req: proto.ReconfigRequest{NewMembers: str("server.1=127.0.0.1:2001:3001:participant;4001,server.2=127.0.0.1:2002:3002:participant;4002"), CurConfigID: -1},
			auth: super, want: proto.ErrOK,
			wantConfig: "server.1=127.0.0.1:2001:3001:participant;0.0.0.0:4001\n" +
				"server.2=127.0.0.1:2002:3002:participant;0.0.0.0:4002\nversion=200000005"},
		{name: "new members malformed", req: proto.ReconfigRequest{NewMembers: str("server.1=nonsense"), CurConfigID: -1}, auth: super, want: proto.ErrBadArguments},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ens := &fakeLeader{last: threeServers(t), synced: map[int64]bool{1: true, 2: true, 4: true}}
			opts := Options{Store: treeStore{tree.New()}, ReconfigEnabled: true, Leader: ens}
			if tc.opts != nil {
				tc.opts(&opts, ens)
			}
			p := New(opts)
			req := tc.req
			txn, err := p.Prepare(&proto.Request{SessionID: 1, Op: proto.OpReconfig, Body: &req, Auth: tc.auth}, 0x200000005, 7)
			if err != nil {
				t.Fatal(err)
			}
			if txn.Err != tc.want {
				t.Fatalf("error %v, want %v", txn.Err, tc.want)
			}
			if tc.want != proto.ErrOK {
				return
			}
			if txn.Header.Type != proto.OpReconfig {
				t.Fatalf("txn type %v, want reconfig", txn.Header.Type)
			}
			sd := txn.Body.(*proto.SetDataTxn)
			if sd.Path != tree.ConfigPath || sd.Version != -1 || string(sd.Data) != tc.wantConfig {
				t.Fatalf("txn %s version %d:\n%s\nwant:\n%s", sd.Path, sd.Version, sd.Data, tc.wantConfig)
			}
		})
	}
}
