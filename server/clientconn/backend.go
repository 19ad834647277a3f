package clientconn

import (
	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
)

// WriteResult is the outcome of a write the Backend applied.
type WriteResult struct {
	// Zxid is the zxid of the txn (also for failed writes, which consume one).
	Zxid int64
	// Result is what the tree reported when applying the txn.
	Result tree.Result
	// Err is an error that prevented the write from being applied at all
	// (not leader, shutting down); ErrOK otherwise.
	Err proto.ErrCode
}

// Stats are the server-wide figures the four-letter words report.
type Stats struct {
	Mode            string // standalone, leader, follower, observer, read-only
	LastZxid        int64
	Epoch           int64
	Outstanding     int
	Followers       int // leader only
	SyncedFollowers int // leader only
	PendingSyncs    int
	// Extra lines for mntr, key -> value, in order.
	Extra [][2]string
}

// Backend is what clientconn needs from the rest of the server.
type Backend interface {
	// Tree is the local replica that answers reads.
	Tree() *tree.Tree
	// LastZxid is the zxid of the last txn applied to Tree.
	LastZxid() int64
	// CreateSession creates a session with a negotiated timeout (ms) and
	// calls done once it is committed.
	CreateSession(timeoutMs int32, readOnly bool, done func(id int64, passwd []byte, err error))
	// ReattachSession validates a reconnecting client's session id and
	// password; done(ok, timeoutMs) reports whether the session lives.
	ReattachSession(id int64, passwd []byte, timeoutMs int32, done func(ok bool, timeoutMs int32))
	// Touch records activity on a session; false means it is unknown or
	// closing.
	Touch(id int64) bool
	// Submit sends a write through the write path; done is called exactly
	// once, after the txn is applied to Tree (or the write failed).
	Submit(req *proto.Request, done func(WriteResult))
	// Sync calls done once every write committed before the call is
	// applied to Tree.
	Sync(sessionID int64, done func(err proto.ErrCode))
	// ServerStats reports figures for four-letter words.
	ServerStats() Stats
}

// SessionCloser is implemented by Server: the Backend calls it when a
// session is closed or expired, so its connection is closed too.
type SessionCloser interface {
	CloseSession(id int64)
}

// ReadOnlyReporter is implemented by Backends that can serve read-only
// (partitioned from their quorum): sessions made then are read-only, and
// the connect response says so.
type ReadOnlyReporter interface {
	ReadOnly() bool
}
