package harness

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"
)

// Ports handed to servers are drawn below Linux's default ephemeral range
// (32768-60999) so that outgoing connections do not take them first.
const (
	portLow  = 20000
	portHigh = 32700
)

// PortPicker hands out loopback ports that were free when picked and were
// not handed out before by the same picker. Start uses one per attempt;
// internal/zktest one per test binary. It is safe for concurrent use.
type PortPicker struct {
	mu   sync.Mutex
	rng  *rand.Rand
	used map[int]bool
}

// NewPortPicker returns a picker seeded from the clock and the process id,
// so that test binaries running side by side draw different ports.
func NewPortPicker() *PortPicker {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	return &PortPicker{rng: rng, used: map[int]bool{}}
}

// Pick returns a port on which 127.0.0.1 could be bound just now.
func (p *PortPicker) Pick() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range 500 {
		port := portLow + p.rng.IntN(portHigh-portLow)
		if p.used[port] {
			continue
		}
		p.used[port] = true
		if portFree(port) {
			return port, nil
		}
	}
	return 0, errors.New("harness: no free loopback port found in 500 tries")
}

// portFree reports whether 127.0.0.1:port can be bound now.
func portFree(port int) bool {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
