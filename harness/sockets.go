package harness

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// With leaderServes=no a Java leader answers every four-letter word with
// "not currently serving requests", so srvr cannot tell it from a server that
// is electing. Only the leader accepts learners on its quorum port, so the
// harness looks at the kernel's socket table instead: a server with an
// established connection on its own quorum port is the leader.

// tcpEstablished is the state code of an established socket in /proc/net/tcp.
const tcpEstablished = "01"

// sockTable caches the local ports of established loopback sockets.
type sockTable struct {
	mu    sync.Mutex
	at    time.Time
	ports map[int]bool
}

// established reports whether some established socket has local port port,
// reading /proc/net/tcp{,6} at most every 5 ms.
func (t *sockTable) established(port int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if time.Since(t.at) > 5*time.Millisecond {
		t.ports = map[int]bool{}
		for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
			readEstablished(f, t.ports)
		}
		t.at = time.Now()
	}
	return t.ports[port]
}

// readEstablished adds the local ports of established sockets in file (in
// /proc/net/tcp format) to ports.
func readEstablished(file string, ports map[int]bool) {
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || fields[3] != tcpEstablished {
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil {
			ports[int(p)] = true
		}
	}
}
