package bench

import (
	"errors"
	"fmt"
	"net"
	"strings"

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
// with go-zookeeper's sentinel for each, or nil where it has none and
// reports the code as "unknown error: N".
var serverCodes = [...]struct {
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
	{nil, proto.ErrSystemError},
	{nil, proto.ErrRuntimeInconsistency},
	{nil, proto.ErrDataInconsistency},
	{nil, proto.ErrConnectionLoss},
	{nil, proto.ErrMarshallingError},
	{nil, proto.ErrUnimplemented},
	{nil, proto.ErrOperationTimeout},
	{nil, proto.ErrUnknownSession},
	{nil, proto.ErrNewConfigNoQuorum},
	{nil, proto.ErrReconfigInProgress},
	{nil, proto.ErrNotReadOnly},
	{nil, proto.ErrEphemeralOnLocalSession},
	{nil, proto.ErrNoWatcher},
	{nil, proto.ErrRequestTimeout},
	{nil, proto.ErrSessionClosedRequireSASL},
	{nil, proto.ErrQuotaExceeded},
	{nil, proto.ErrThrottledOp},
}

// unnamedCodeMessages holds, for each serverCodes entry without a
// sentinel, the message go-zookeeper gives its code.
var unnamedCodeMessages = func() (m [len(serverCodes)]string) {
	for i, sc := range serverCodes {
		if sc.err == nil {
			m[i] = fmt.Sprintf("unknown error: %d", int32(sc.code))
		}
	}
	return m
}()

const (
	numServerCodes = len(serverCodes)
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
		if sc.err != nil && err == sc.err {
			return kindFirstServer + errKind(i)
		}
	}
	if msg := err.Error(); strings.HasPrefix(msg, "unknown error: ") {
		for i, m := range unnamedCodeMessages {
			if m != "" && msg == m {
				return kindFirstServer + errKind(i)
			}
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
