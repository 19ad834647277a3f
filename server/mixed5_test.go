package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zkbench/zkbench/internal/zktest"
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/replica"
	"github.com/zkbench/zkbench/server/snap"
	"github.com/zkbench/zkbench/server/tree"
	"github.com/zkbench/zkbench/server/wal"
)

// TestIntegrationMixedEnsembles5 is TestIntegrationMixedEnsembles at 5
// servers: a Go leader with four Java followers and a Java leader with four
// Go followers give an all-Java 5-server ensemble's transcript through a
// follower, every server reads every other's writes, and the data
// directories then hold the same committed txns and the same state.
func TestIntegrationMixedEnsembles5(t *testing.T) {
	ref := zktest.StartJavaEnsemble(t, 5, extraConfig...)
	want := runScript(t, ref.Servers[(ref.Leader(20*time.Second)+1)%5].Addr)
	for _, s := range ref.Servers {
		s.Kill() // five JVMs fewer for the mixed ensembles
	}
	for _, tc := range []struct {
		name string
		java []bool
	}{
		{"GoLeaderJavaFollowers", []bool{true, true, true, true, false}},
		{"JavaLeaderGoFollowers", []bool{false, false, false, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startMixed(t, tc.java)
			got := runScript(t, e.Servers[0].Addr)
			compareTranscripts(t, want, got)
			writeThroughEach(t, e)
			requireSameDataDirs(t, e)
		})
	}
}

// requireSameDataDirs waits until every server of e reports the same last
// zxid, kills them all (followers first, so nothing more commits), and
// reads each one's data directory with the server's own readers: every
// txn up to that zxid in one server's log must be byte for byte the txn
// of that zxid in every other's that holds it, each log must reach it, and
// the state recovered at it (newest snapshot, then the log replayed) must
// be the same everywhere: every znode with its data, stat and ACL, the
// tree's digest and the session table.
func requireSameDataDirs(t *testing.T, e *zktest.Ensemble) {
	t.Helper()
	last := waitSameZxid(t, e, 20*time.Second)
	leader := -1
	for i := range e.Servers {
		if e.Mode(i) == "leader" {
			leader = i
		}
	}
	for i, s := range e.Servers {
		if i != leader {
			s.Kill()
		}
	}
	if leader >= 0 {
		e.Servers[leader].Kill()
	}
	type dirState struct {
		logs  map[int64][]byte
		first int64
		dump  []string
	}
	states := make([]dirState, len(e.Servers))
	for i, s := range e.Servers {
		dir := filepath.Join(s.Dir, "data", "version-2")
		logs, first := readLogUpTo(t, dir, last)
		states[i] = dirState{logs: logs, first: first, dump: stateAt(t, dir, last)}
		if _, ok := logs[last]; !ok && last != 0 {
			t.Errorf("server %d's log does not reach zxid %#x (it holds %d txns from %#x)", i+1, last, len(logs), first)
		}
	}
	ref := states[0]
	for i, st := range states[1:] {
		same := 0
		for zxid, rec := range st.logs {
			want, ok := ref.logs[zxid]
			if !ok {
				continue
			}
			if !bytes.Equal(rec, want) {
				if !failedMultiMarkedOnly(rec, want) {
					t.Errorf("server %d's txn %#x differs from server 1's:\n  %s\n  %s", i+2, zxid, describeTxn(rec), describeTxn(want))
					continue
				}
				t.Logf("server %d's txn %#x differs from server 1's only by a failed multi's operations retyped error (upstream's in-place marking):\n  %s\n  %s", i+2, zxid, describeTxn(rec), describeTxn(want))
			}
			same++
		}
		if same == 0 && last != 0 {
			t.Errorf("server %d's log shares no txn with server 1's", i+2)
		}
		if !slices.Equal(st.dump, ref.dump) {
			t.Errorf("server %d's state at %#x differs from server 1's:\n%s\nserver 1:\n%s", i+2, last, strings.Join(st.dump, "\n"), strings.Join(ref.dump, "\n"))
		}
	}
	if !t.Failed() {
		t.Logf("data dirs agree up to zxid %#x: %d txns in server 1's log, %d lines of state", last, len(ref.logs), len(ref.dump))
	}
}

// waitSameZxid polls every server's srvr until all report the same zxid
// twice in a row, 100 ms apart, and returns it.
func waitSameZxid(t *testing.T, e *zktest.Ensemble, timeout time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	prev := int64(-1)
	var seen []int64
	for time.Now().Before(deadline) {
		seen = seen[:0]
		for i := range e.Servers {
			seen = append(seen, srvrZxid(t, e, i))
		}
		if slices.Min(seen) == slices.Max(seen) {
			if seen[0] == prev {
				return prev
			}
			prev = seen[0]
		} else {
			prev = -1
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("servers' last zxids never agreed within %v: %#x", timeout, seen)
	return 0
}

// errPast stops a log read past the zxid of interest.
var errPast = errors.New("past the last zxid")

// readLogUpTo reads the txn log in dir (wal.ReadFrom: upstream's format,
// gaps refused) up to zxid last and returns each txn's record by zxid and
// the first zxid held.
func readLogUpTo(t *testing.T, dir string, last int64) (map[int64][]byte, int64) {
	t.Helper()
	logs := map[int64][]byte{}
	first := int64(-1)
	err := wal.ReadFrom(dir, 0, func(zxid int64, rec []byte) error {
		if zxid > last {
			return errPast
		}
		if first < 0 {
			first = zxid
		}
		logs[zxid] = slices.Clone(rec)
		return nil
	})
	if err != nil && !errors.Is(err, errPast) {
		t.Fatalf("reading the log in %s: %v", dir, err)
	}
	return logs, first
}

// stateAt rebuilds the state in dir at zxid last as a server's recovery
// does (the newest valid snapshot, then the log after it through
// replica.Apply, stopping at last) and lists it: every znode but the
// per-server /zookeeper/config with its data, stat and ACL, in path order,
// then the tree's digest and the sessions.
func stateAt(t *testing.T, dir string, last int64) []string {
	t.Helper()
	var tr *tree.Tree
	var sessions map[int64]int32
	f, err := snap.LoadNewestValid(dir, func(r *snap.Reader) error {
		restored, err := replica.RestoreTree(r)
		if err != nil {
			return err
		}
		tr, sessions = restored, r.Header().Sessions
		return nil
	})
	switch {
	case errors.Is(err, snap.ErrNoSnapshot):
		tr, sessions = tree.New(), map[int64]int32{}
	case err != nil:
		t.Fatalf("loading the newest snapshot in %s: %v", dir, err)
	case f.Zxid > last:
		t.Fatalf("%s's newest snapshot %s is past zxid %#x", dir, f.Path, last)
	}
	r := replica.New(replica.Options{Tree: tr, Sessions: sessions})
	err = wal.ReadFrom(dir, tr.LastZxid(), func(zxid int64, rec []byte) error {
		if zxid > last {
			return errPast
		}
		lt, err := proto.DecodeLoggedTxn(rec)
		if err != nil {
			return fmt.Errorf("zxid %#x: %w", zxid, err)
		}
		r.Apply(&lt.Header, lt.Body)
		return nil
	})
	if err != nil && !errors.Is(err, errPast) {
		t.Fatalf("replaying the log in %s: %v", dir, err)
	}
	tr = r.Tree()
	if got := tr.LastZxid(); got != last {
		t.Fatalf("%s recovers to zxid %#x, want %#x", dir, got, last)
	}
	acls := tr.ACLCache()
	var out []string
	err = tr.Walk(func(n tree.NodeRecord) error {
		if n.Path == "/zookeeper/config" {
			return nil
		}
		out = append(out, fmt.Sprintf("%s %q %+v acl=%v", n.Path, n.Data, n.Stat, acls[n.ACLRef]))
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s's tree: %v", dir, err)
	}
	slices.Sort(out)
	out = append(out, fmt.Sprintf("digest %#x", tr.Digest()))
	ss := r.Sessions()
	for _, id := range slices.Sorted(maps.Keys(ss)) {
		out = append(out, fmt.Sprintf("session %#x timeout %d", id, ss[id]))
	}
	return out
}

// describeTxn says what a log record holds, for a failure message.
// failedMultiMarkedOnly reports whether log records a and b hold the same
// failed multi txn but for operations one of them types as error where the
// other keeps the operation's own type. Upstream applies a failed multi by
// retyping its operations to error in place, on the txn object it goes on
// using: a Java leader's log thread may write it after that, and a DIFF
// from its cache of committed proposals can carry the retyped form, while
// a live PROPOSAL carries the original, so either form can end up in any
// server's log. Everything else, the bodies included, must be equal.
func failedMultiMarkedOnly(a, b []byte) bool {
	la, errA := proto.DecodeLoggedTxn(a)
	lb, errB := proto.DecodeLoggedTxn(b)
	if errA != nil || errB != nil || la.Header != lb.Header || la.Header.Type != proto.OpMulti {
		return false
	}
	if (la.Digest == nil) != (lb.Digest == nil) || la.Digest != nil && *la.Digest != *lb.Digest {
		return false
	}
	ma, okA := la.Body.(*proto.MultiTxn)
	mb, okB := lb.Body.(*proto.MultiTxn)
	if !okA || !okB || len(ma.Txns) != len(mb.Txns) {
		return false
	}
	failed := false
	for i, ta := range ma.Txns {
		tb := mb.Txns[i]
		if !bytes.Equal(ta.Data, tb.Data) {
			return false
		}
		if ta.Type != tb.Type && ta.Type != proto.OpError && tb.Type != proto.OpError {
			return false
		}
		failed = failed || ta.Type == proto.OpError || tb.Type == proto.OpError
	}
	return failed
}

func describeTxn(rec []byte) string {
	lt, err := proto.DecodeLoggedTxn(rec)
	if err != nil {
		return fmt.Sprintf("undecodable (%v): %x", err, rec)
	}
	return fmt.Sprintf("%+v %+v digest=%+v (%d bytes)", lt.Header, lt.Body, lt.Digest, len(rec))
}
