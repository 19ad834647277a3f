package agent

import (
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"
)

// MeasureOffset estimates this host's clock minus the coordination
// server's. It sets p's data n times, taking for each write the middle of
// its round trip against the modification time the server stamped on p
// (milliseconds, so its middle is taken), and keeps the sample of the
// shortest round trip. The uncertainty is half that round trip plus half a
// millisecond. Two hosts' offsets measured against the same server give
// their skew.
func MeasureOffset(conn *zk.Conn, p string, n int) (offset, uncertainty time.Duration, err error) {
	best := time.Duration(-1)
	for range max(n, 1) {
		data, _, err := conn.Get(p)
		if err != nil {
			return 0, 0, fmt.Errorf("agent: measure clock: %w", err)
		}
		t0 := time.Now()
		st, err := conn.Set(p, data, -1)
		t1 := time.Now()
		if err != nil {
			return 0, 0, fmt.Errorf("agent: measure clock: %w", err)
		}
		rtt := t1.Sub(t0)
		if best >= 0 && rtt >= best {
			continue
		}
		best = rtt
		server := time.UnixMilli(st.Mtime).Add(500 * time.Microsecond)
		mid := t0.Add(rtt / 2)
		offset = mid.Sub(server)
		uncertainty = rtt/2 + 500*time.Microsecond
	}
	return offset, uncertainty, nil
}
