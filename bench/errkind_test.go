package bench

import (
	"errors"
	"fmt"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkbench/zkbench/results"
)

// TestClassifyNamesServerCodes: an error a server answered is counted under
// its code's name, also for the codes go-zookeeper has no sentinel for
// (it reports those as "unknown error: N").
func TestClassifyNamesServerCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{zk.ErrNoNode, results.KindServerPrefix + "NONODE"},
		{zk.ErrSessionMoved, results.KindServerPrefix + "SESSIONMOVED"},
		{fmt.Errorf("unknown error: %v", -7), results.KindServerPrefix + "OPERATIONTIMEOUT"},
		{fmt.Errorf("unknown error: %v", -1), results.KindServerPrefix + "SYSTEMERROR"},
		{fmt.Errorf("unknown error: %v", -14), results.KindServerPrefix + "RECONFIGINPROGRESS"},
		{zk.ErrConnectionClosed, results.KindConnectionLoss},
		{errors.New("something else"), results.KindOther},
		{fmt.Errorf("unknown error: %v", -9999), results.KindOther},
	} {
		if got := kindName(classify(tc.err)); got != tc.want {
			t.Errorf("classify(%q) = %s, want %s", tc.err, got, tc.want)
		}
	}
}
