package node

import (
	"fmt"
	"sync"

	"github.com/zkbench/zkbench/server/reaper"
)

// startReaper starts the container reaper (Options.Containers) until the
// node stops, as upstream's standalone server runs its ContainerManager.
func (n *Node) startReaper(wg *sync.WaitGroup) error {
	if n.opts.Containers == nil {
		return nil
	}
	r, err := reaper.New(*n.opts.Containers, n.now())
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.log.Info("container reaper", "options", n.opts.Containers.String())
	wg.Add(1)
	go func() {
		defer wg.Done()
		reaper.Run(n.stopped, r, n.tree, n.now, n.deleteContainer)
	}()
	return nil
}

// deleteContainer submits the reaper's deletion of path. Nobody waits for
// its result: if the node got a child meanwhile, the prep stage makes it an
// error txn, as upstream.
func (n *Node) deleteContainer(path string) {
	n.log.Info("attempting to delete candidate container", "path", path)
	n.submit(&item{req: reaper.Request(path)})
}
