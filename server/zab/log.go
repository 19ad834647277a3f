package zab

import (
	"fmt"
	"sort"
)

// zlog is the state machine's view of the log: the durable Storage, changed
// by what the driver has not yet made durable (a snapshot to install, a
// truncation, entries to append). Those changes are handed out in Ready;
// Storage reflects them after Advance.
//
// tail caches, in memory, the entries this machine appended that are not
// yet applied or not yet durable, so that commits (a follower's hot path)
// never read Storage back. The tail entries past Storage's last zxid are
// not durable; those past handed too are the ones Ready.Persist hands out
// (the driver has appended the others and not yet reported them durable,
// see Zab.Persisted).
type zlog struct {
	st Storage

	snapPending bool
	snapZxid    int64 // with snapPending: the whole log is replaced by base snapZxid

	truncPending bool
	truncTo      int64 // with truncPending: durable entries past truncTo are gone

	tail     []Entry // entries after tailPrev, in order
	tailPrev int64   // the zxid before tail[0] (meaningful when tail is not empty)
	handed   int64   // the last zxid Advance saw appended (Ready.Persist)
}

// stableLast is the last zxid of the durable part as it will be once the
// pending snapshot or truncation is applied.
func (l *zlog) stableLast() int64 {
	if l.snapPending {
		return l.snapZxid
	}
	last := l.st.LastZxid()
	if l.truncPending && last > l.truncTo {
		last = l.truncTo
	}
	return last
}

func (l *zlog) base() int64 {
	if l.snapPending {
		return l.snapZxid
	}
	return l.st.BaseZxid()
}

func (l *zlog) lastZxid() int64 {
	if n := len(l.tail); n > 0 {
		return l.tail[n-1].Zxid
	}
	return l.stableLast()
}

// unstable returns the entries not yet handed to the driver to append.
func (l *zlog) unstable() []Entry {
	s := max(l.stableLast(), l.handed)
	i := sort.Search(len(l.tail), func(i int) bool { return l.tail[i].Zxid > s })
	return l.tail[i:]
}

func (l *zlog) append(e Entry) error {
	last := l.lastZxid()
	if e.Zxid <= last {
		return fmt.Errorf("zab: append %s after %s: %w", FormatZxid(e.Zxid), FormatZxid(last), ErrProtocol)
	}
	if len(l.tail) == 0 {
		l.tailPrev = last
	}
	l.tail = append(l.tail, e)
	return nil
}

// truncate drops every entry after zxid.
func (l *zlog) truncate(zxid int64) error {
	if zxid >= l.lastZxid() {
		return nil
	}
	if zxid < l.base() {
		return fmt.Errorf("zab: truncate to %s, log base %s: %w", FormatZxid(zxid), FormatZxid(l.base()), ErrCompacted)
	}
	i := sort.Search(len(l.tail), func(i int) bool { return l.tail[i].Zxid > zxid })
	l.tail = l.tail[:i:i]
	l.handed = min(l.handed, zxid)
	if zxid < l.stableLast() {
		l.truncPending = true
		l.truncTo = zxid
	}
	return nil
}

func (l *zlog) installSnapshot(zxid int64) {
	l.snapPending = true
	l.snapZxid = zxid
	l.truncPending = false
	l.tail = nil
	l.handed = zxid
}

// entries returns up to max entries with zxid in (after, upto].
func (l *zlog) entries(after, upto int64, max int) ([]Entry, error) {
	if after < l.base() {
		return nil, fmt.Errorf("zab: entries after %s, log base %s: %w", FormatZxid(after), FormatZxid(l.base()), ErrCompacted)
	}
	var out []Entry
	if len(l.tail) == 0 || after < l.tailPrev {
		// Some of them, at least, are only in Storage.
		if stable := l.stableLast(); after < stable && !l.snapPending {
			ents, err := l.st.Entries(after, max)
			if err != nil {
				return nil, err
			}
			for _, e := range ents {
				if e.Zxid > upto {
					return out, nil
				}
				if e.Zxid > stable {
					break // truncated away; the tail follows
				}
				out = append(out, e)
			}
			if len(out) == max {
				return out, nil
			}
			if len(out) > 0 {
				after = out[len(out)-1].Zxid
			}
		}
	}
	i := sort.Search(len(l.tail), func(i int) bool { return l.tail[i].Zxid > after })
	for ; i < len(l.tail) && len(out) < max; i++ {
		if l.tail[i].Zxid > upto {
			break
		}
		out = append(out, l.tail[i])
	}
	return out, nil
}

// floor returns the largest zxid <= zxid in the log, counting the base.
func (l *zlog) floor(zxid int64) (int64, error) {
	if zxid < l.base() {
		return 0, fmt.Errorf("zab: floor of %s, log base %s: %w", FormatZxid(zxid), FormatZxid(l.base()), ErrCompacted)
	}
	i := sort.Search(len(l.tail), func(i int) bool { return l.tail[i].Zxid > zxid })
	if i > 0 {
		return l.tail[i-1].Zxid, nil
	}
	if l.snapPending {
		return l.snapZxid, nil
	}
	if l.truncPending && zxid > l.truncTo {
		zxid = l.truncTo
	}
	return l.st.Floor(zxid)
}

// stableTo forgets the pending changes the driver made durable with rd,
// and notes the entries of rd.Persist as appended (Storage holds them once
// they are durable).
func (l *zlog) stableTo(rd *Ready) {
	if rd.Snapshot != nil {
		l.snapPending = false
	}
	if rd.Truncate != nil {
		l.truncPending = false
	}
	if n := len(rd.Persist); n > 0 {
		l.handed = max(l.handed, rd.Persist[n-1].Zxid)
	}
}

// release drops from the cache the durable entries up to zxid (applied).
func (l *zlog) release(zxid int64) {
	zxid = min(zxid, l.stableLast())
	i := sort.Search(len(l.tail), func(i int) bool { return l.tail[i].Zxid > zxid })
	if i == 0 {
		return
	}
	l.tailPrev = l.tail[i-1].Zxid
	l.tail = l.tail[i:]
}
