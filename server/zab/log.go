package zab

import (
	"fmt"
	"sort"
)

// zlog is the state machine's view of the log: the durable Storage, changed
// by what the driver has not yet made durable (a snapshot to install, a
// truncation, entries to append). Those changes are handed out in Ready and
// forgotten at Advance, when Storage reflects them.
type zlog struct {
	st Storage

	snapPending bool
	snapZxid    int64 // with snapPending: the whole log is replaced by base snapZxid

	truncPending bool
	truncTo      int64 // with truncPending: durable entries past truncTo are gone

	unstable []Entry // entries after stableLast, not yet durable
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
	if n := len(l.unstable); n > 0 {
		return l.unstable[n-1].Zxid
	}
	return l.stableLast()
}

func (l *zlog) append(e Entry) error {
	if last := l.lastZxid(); e.Zxid <= last {
		return fmt.Errorf("zab: append %s after %s: %w", FormatZxid(e.Zxid), FormatZxid(last), ErrProtocol)
	}
	l.unstable = append(l.unstable, e)
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
	i := sort.Search(len(l.unstable), func(i int) bool { return l.unstable[i].Zxid > zxid })
	l.unstable = l.unstable[:i:i]
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
	l.unstable = nil
}

// entries returns up to max entries with zxid in (after, upto].
func (l *zlog) entries(after, upto int64, max int) ([]Entry, error) {
	var out []Entry
	if after < l.stableLast() && !l.snapPending {
		ents, err := l.st.Entries(after, max)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.Zxid > upto || e.Zxid > l.stableLast() {
				return out, nil
			}
			out = append(out, e)
		}
		if len(out) == max {
			return out, nil
		}
		if len(out) > 0 {
			after = out[len(out)-1].Zxid
		}
	} else if after < l.base() {
		return nil, fmt.Errorf("zab: entries after %s, log base %s: %w", FormatZxid(after), FormatZxid(l.base()), ErrCompacted)
	}
	i := sort.Search(len(l.unstable), func(i int) bool { return l.unstable[i].Zxid > after })
	for ; i < len(l.unstable) && len(out) < max; i++ {
		if l.unstable[i].Zxid > upto {
			break
		}
		out = append(out, l.unstable[i])
	}
	return out, nil
}

// floor returns the largest zxid <= zxid in the log, counting the base.
func (l *zlog) floor(zxid int64) (int64, error) {
	i := sort.Search(len(l.unstable), func(i int) bool { return l.unstable[i].Zxid > zxid })
	if i > 0 {
		return l.unstable[i-1].Zxid, nil
	}
	if zxid < l.base() {
		return 0, fmt.Errorf("zab: floor of %s, log base %s: %w", FormatZxid(zxid), FormatZxid(l.base()), ErrCompacted)
	}
	if l.snapPending {
		return l.snapZxid, nil
	}
	if l.truncPending && zxid > l.truncTo {
		zxid = l.truncTo
	}
	return l.st.Floor(zxid)
}

// stableTo forgets what the driver has made durable with rd.
func (l *zlog) stableTo(rd *Ready) {
	if rd.Snapshot != nil {
		l.snapPending = false
	}
	if rd.Truncate != nil {
		l.truncPending = false
	}
	if n := len(rd.Persist); n > 0 {
		last := rd.Persist[n-1].Zxid
		i := sort.Search(len(l.unstable), func(i int) bool { return l.unstable[i].Zxid > last })
		l.unstable = append([]Entry(nil), l.unstable[i:]...)
	}
}
