package standalone

import (
	"fmt"
	"sync"

	"github.com/zkbench/zkbench/server/reaper"
)

// startReaper starts the container reaper (Options.Containers) until the
// node stops, as upstream's standalone server runs its ContainerManager.
// Nobody waits for a deletion's result.
func (n *Node) startReaper(wg *sync.WaitGroup) error {
	if n.opts.Containers == nil {
		return nil
	}
	r, err := n.replica.NewReaper(*n.opts.Containers)
	if err != nil {
		return fmt.Errorf("standalone: %w", err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		reaper.Run(n.stopped, r, n.replica, n.now, func(path string) {
			n.submit(&item{req: n.replica.ReapRequest(path)})
		})
	}()
	return nil
}
