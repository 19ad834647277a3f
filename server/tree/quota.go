package tree

import (
	"slices"
	"strconv"
	"strings"
)

// Quota bookkeeping, as upstream DataTree keeps it: a node
// /zookeeper/quota<path>/zookeeper_limits marks <path> as having a quota, and
// the data of /zookeeper/quota<path>/zookeeper_stats tracks the number of
// nodes and bytes of data under <path> ("count=N,bytes=M"). The stats node's
// data changes without any change to its stat, as upstream. Enforcement
// (zookeeper.enforceQuota) belongs to the prep stage.

const (
	limitNode = "zookeeper_limits"
	statNode  = "zookeeper_stats"
)

// quotaTrie is the set of paths that have a quota (upstream PathTrie).
type quotaTrie struct{ paths map[string]struct{} }

func newQuotaTrie() *quotaTrie { return &quotaTrie{paths: make(map[string]struct{})} }

// maxPrefix returns the longest quota path that is path or an ancestor of
// it, or "" (upstream getMaxPrefixWithQuota: the root never has a quota).
func (q *quotaTrie) maxPrefix(path string) string {
	if len(q.paths) == 0 {
		return ""
	}
	for p := path; p != "/"; p, _ = parentOf(p) {
		if _, ok := q.paths[p]; ok {
			return p
		}
	}
	return ""
}

// statsTrack is upstream StatsTrack: key=value pairs separated by , or ;.
type statsTrack map[string]int64

func parseStats(data []byte) statsTrack {
	st := statsTrack{}
	for _, kv := range strings.FieldsFunc(string(data), func(r rune) bool { return r == ',' || r == ';' }) {
		parts := strings.Split(kv, "=")
		for len(parts) > 1 && parts[len(parts)-1] == "" { // Java's split drops trailing empties
			parts = parts[:len(parts)-1]
		}
		if len(parts) < 2 {
			st[parts[0]] = -1
			continue
		}
		if v, err := strconv.ParseInt(parts[1], 10, 64); err == nil {
			st[parts[0]] = v
		}
	}
	return st
}

func (st statsTrack) get(k string) int64 {
	if v, ok := st[k]; ok {
		return v
	}
	return -1
}

func (st statsTrack) bytes() []byte {
	var b strings.Builder
	b.WriteString("count=" + strconv.FormatInt(st.get("count"), 10))
	b.WriteString(",bytes=" + strconv.FormatInt(st.get("bytes"), 10))
	var keys []string
	for k := range st {
		if k != "count" && k != "bytes" {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		b.WriteString("=")
		slices.Sort(keys)
		for _, k := range keys {
			b.WriteString(";" + k + "=" + strconv.FormatInt(st[k], 10))
		}
	}
	return []byte(b.String())
}

func statPath(quotaPath string) string { return QuotaPath + quotaPath + "/" + statNode }

// updateQuotaStat adds to the counters of the quota at prefix.
func (t *Tree) updateQuotaStat(prefix string, bytesDiff int64, countDiff int64) {
	n := t.nodes[statPath(prefix)]
	if n == nil {
		return
	}
	st := parseStats(n.data)
	st["count"] = st.get("count") + countDiff
	st["bytes"] = st.get("bytes") + bytesDiff
	n.data = st.bytes()
}

// updateQuotaForPath recounts the subtree at path into its stats node.
func (t *Tree) updateQuotaForPath(path string) {
	var count, size int64
	var walk func(p string)
	walk = func(p string) {
		n := t.nodes[p]
		if n == nil {
			return
		}
		count++
		size += int64(len(n.data))
		for c := range n.children {
			walk(p + "/" + c)
		}
	}
	walk(path)
	if n := t.nodes[statPath(path)]; n != nil {
		n.data = statsTrack{"count": count, "bytes": size}.bytes()
	}
}

func (t *Tree) quotaOnCreate(parentPath, name, path string, size int64) {
	if strings.HasPrefix(parentPath, QuotaPath) {
		target := parentPath[len(QuotaPath):]
		if name == limitNode {
			t.quotas.paths[target] = struct{}{}
		}
		if name == statNode {
			t.updateQuotaForPath(target)
		}
	}
	if p := t.quotas.maxPrefix(path); p != "" {
		t.updateQuotaStat(p, size, 1)
	}
}

func (t *Tree) quotaOnDelete(parentPath, name, path string, size int64) {
	if strings.HasPrefix(parentPath, ProcPath) && name == limitNode && len(parentPath) >= len(QuotaPath) {
		delete(t.quotas.paths, parentPath[len(QuotaPath):])
	}
	if p := t.quotas.maxPrefix(path); p != "" {
		t.updateQuotaStat(p, -size, -1)
	}
}

func (t *Tree) quotaOnSetData(path string, diff int64) {
	if p := t.quotas.maxPrefix(path); p != "" {
		t.updateQuotaStat(p, diff, 0)
	}
}

// setupQuota rebuilds the quota set and recounts every quota after a
// restore (upstream DataTree.setupQuota): each leaf zookeeper_limits node
// under /zookeeper/quota marks a quota.
func (t *Tree) setupQuota() {
	var walk func(p string)
	walk = func(p string) {
		n := t.nodes[p]
		if n == nil {
			return
		}
		if len(n.children) == 0 {
			if strings.HasSuffix(p, "/"+limitNode) {
				real := p[len(QuotaPath) : len(p)-len(limitNode)-1]
				t.updateQuotaForPath(real)
				t.quotas.paths[real] = struct{}{}
			}
			return
		}
		for _, c := range n.sortedChildren() {
			walk(p + "/" + c)
		}
	}
	walk(QuotaPath)
}

// Quota is one quota as its two nodes say: the limits in zookeeper_limits
// and the usage the tree keeps in zookeeper_stats. A limit that is not set
// is -1, as upstream StatsTrack reports a missing key.
type Quota struct {
	// Path is the znode the quota is set on.
	Path string
	// CountLimit and ByteLimit are the soft limits (count, bytes): going
	// over them is only logged.
	CountLimit, ByteLimit int64
	// CountHardLimit and ByteHardLimit (countHardLimit, byteHardLimit) are
	// the hard limits, which zookeeper.enforceQuota enforces.
	CountHardLimit, ByteHardLimit int64
	// Count and Bytes are the nodes and data bytes now under Path.
	Count, Bytes int64
}

// QuotaFor returns the quota that governs path: the one on the longest
// quota path that is path or an ancestor of it (upstream
// getMaxPrefixWithQuota), as the committed tree has it. It reports false
// when no quota covers path or one of its nodes is missing.
func (t *Tree) QuotaFor(path string) (Quota, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	prefix := t.quotas.maxPrefix(path)
	if prefix == "" {
		return Quota{}, false
	}
	limits := t.nodes[QuotaPath+prefix+"/"+limitNode]
	stats := t.nodes[statPath(prefix)]
	if limits == nil || stats == nil {
		return Quota{}, false
	}
	l, s := parseStats(limits.data), parseStats(stats.data)
	return Quota{
		Path:       prefix,
		CountLimit: l.get("count"), ByteLimit: l.get("bytes"),
		CountHardLimit: l.get("countHardLimit"), ByteHardLimit: l.get("byteHardLimit"),
		Count: s.get("count"), Bytes: s.get("bytes"),
	}, true
}
