package tree

import "slices"

// ExpiredContainersAndTTLs lists, sorted, up to maxPerCall (all if <= 0)
// nodes due for deletion, as upstream ContainerManager.getCandidates: empty
// containers that have had a child (stored cversion > 0), and TTL nodes with
// no children whose mtime is more than their TTL before nowMs. The caller
// turns each into an OpDeleteContainer request, whose prep re-checks it.
// Upstream's optional maxNeverUsedIntervalMs (containers never used) is
// ExpiredContainersAndTTLsNeverUsed.
func (t *Tree) ExpiredContainersAndTTLs(nowMs int64, maxPerCall int) []string {
	return t.ExpiredContainersAndTTLsNeverUsed(nowMs, maxPerCall, 0)
}

// ExpiredContainersAndTTLsNeverUsed is ExpiredContainersAndTTLs that also
// lists empty containers that never had a child if their mtime is more than
// maxNeverUsedMs (when > 0) before nowMs (upstream
// znode.container.maxNeverUsedIntervalMs).
func (t *Tree) ExpiredContainersAndTTLsNeverUsed(nowMs int64, maxPerCall int, maxNeverUsedMs int64) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []string
	for p := range t.containers {
		n := t.nodes[p]
		if n == nil || len(n.children) != 0 {
			continue
		}
		if n.stat.Cversion > 0 || (maxNeverUsedMs != 0 && nowMs-n.stat.Mtime > maxNeverUsedMs) {
			out = append(out, p)
		}
	}
	for p := range t.ttls {
		n := t.nodes[p]
		if n == nil || len(n.children) != 0 {
			continue
		}
		if ttl := TTLOf(n.stat.EphemeralOwner); ttl != 0 && nowMs-n.stat.Mtime > ttl {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	if maxPerCall > 0 && len(out) > maxPerCall {
		out = out[:maxPerCall]
	}
	return out
}

// Containers lists the container nodes, sorted.
func (t *Tree) Containers() []string {
	return t.pathSet(func() map[string]struct{} { return t.containers })
}

// TTLNodes lists the TTL nodes, sorted.
func (t *Tree) TTLNodes() []string { return t.pathSet(func() map[string]struct{} { return t.ttls }) }

func (t *Tree) pathSet(get func() map[string]struct{}) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := get()
	out := make([]string, 0, len(s))
	for p := range s {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
