package bench

import (
	"errors"
	"net"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/results"
	"github.com/zkbench/zkbench/server/proto"
)

// errKind indexes the fixed table of error kinds, so that counting an error
// does not allocate.
type errKind uint8

const (
	kindConnectionLoss errKind = iota
	kindSessionExpired
	kindTimeout
	kindNoServer
	kindOther
	kindFirstServer // server error codes follow, in serverCodes order
)

// serverCodes are the ZooKeeper error codes a server may answer, paired
// with go-zookeeper's sentinel for each.
var serverCodes = [numServerCodes]struct {
	err  error
	code proto.ErrCode
}{
	{zk.ErrNoNode, proto.ErrNoNode},
	{zk.ErrNodeExists, proto.ErrNodeExists},
	{zk.ErrBadVersion, proto.ErrBadVersion},
	{zk.ErrNotEmpty, proto.ErrNotEmpty},
	{zk.ErrNoAuth, proto.ErrNoAuth},
	{zk.ErrNoChildrenForEphemerals, proto.ErrNoChildrenForEphemerals},
	{zk.ErrInvalidACL, proto.ErrInvalidACL},
	{zk.ErrAuthFailed, proto.ErrAuthFailed},
	{zk.ErrSessionMoved, proto.ErrSessionMoved},
	{zk.ErrAPIError, proto.ErrAPIError},
	{zk.ErrBadArguments, proto.ErrBadArguments},
	{zk.ErrReconfigDisabled, proto.ErrReconfigDisabled},
	{zk.ErrUnknown, proto.ErrSystemError},
}

const (
	numServerCodes = 13
	numKinds       = int(kindFirstServer) + numServerCodes
)

// kindName returns the results.Kind* name of k.
func kindName(k errKind) string {
	switch k {
	case kindConnectionLoss:
		return results.KindConnectionLoss
	case kindSessionExpired:
		return results.KindSessionExpired
	case kindTimeout:
		return results.KindTimeout
	case kindNoServer:
		return results.KindNoServer
	case kindOther:
		return results.KindOther
	}
	return results.KindServerPrefix + serverCodes[k-kindFirstServer].code.String()
}

// classify sorts a go-zookeeper error into a kind.
func classify(err error) errKind {
	switch err {
	case zk.ErrConnectionClosed, zk.ErrClosing:
		return kindConnectionLoss
	case zk.ErrSessionExpired:
		return kindSessionExpired
	case zk.ErrNoServer:
		return kindNoServer
	case errTimedOut:
		return kindTimeout
	}
	for i, sc := range serverCodes {
		if err == sc.err {
			return kindFirstServer + errKind(i)
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return kindTimeout
		}
		return kindConnectionLoss
	}
	return kindOther
}
