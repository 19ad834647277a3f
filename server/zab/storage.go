package zab

import (
	"errors"
	"fmt"
	"sort"
)

// ErrCompacted is returned by Storage when the entries asked for lie before
// the log's base (they live only in a snapshot now).
var ErrCompacted = errors.New("zab: log compacted past the requested zxid")

// Storage is the durable state the driver provides to the state machine:
// the transaction log (entries after a snapshot base) and the two epoch
// files. Zab reads it and never writes it; the driver writes it from
// Ready.Snapshot, Ready.Truncate, Ready.Persist and Ready.Epochs, in that
// order, before it calls Advance.
//
// The state machine reads Storage only from inside New, Step, Tick, Propose
// and Advance, never concurrently with the driver's writes.
type Storage interface {
	// BaseZxid is the zxid the log starts after: the zxid of the snapshot
	// the log was compacted to or installed from, 0 for a log that starts at
	// the beginning of time. Entries after it are all available.
	BaseZxid() int64
	// LastZxid is the zxid of the last durable entry, or BaseZxid when the
	// log holds no entry after the base.
	LastZxid() int64
	// Entries returns up to max durable entries with zxid > after, in zxid
	// order. It returns ErrCompacted if after < BaseZxid.
	Entries(after int64, max int) ([]Entry, error)
	// Floor returns the largest zxid <= zxid among the base and the
	// durable entries. It returns ErrCompacted if zxid < BaseZxid.
	Floor(zxid int64) (int64, error)
	// AcceptedEpoch is the last epoch this server acknowledged in
	// discovery (upstream's acceptedEpoch file), 0 if none.
	AcceptedEpoch() int64
	// CurrentEpoch is the epoch of the last leader this server synced
	// with (upstream's currentEpoch file), 0 if none.
	CurrentEpoch() int64
}

// MemoryStorage is an in-memory Storage for tests and simulations. Its
// methods that write (Append, Truncate, Reset, Compact, SetEpochs) are the
// driver's side: they do what a durable implementation does with fsync.
type MemoryStorage struct {
	base     int64
	entries  []Entry
	accepted int64
	current  int64
}

// NewMemoryStorage returns an empty log with both epochs 0.
func NewMemoryStorage() *MemoryStorage { return &MemoryStorage{} }

// BaseZxid implements Storage.
func (s *MemoryStorage) BaseZxid() int64 { return s.base }

// LastZxid implements Storage.
func (s *MemoryStorage) LastZxid() int64 {
	if n := len(s.entries); n > 0 {
		return s.entries[n-1].Zxid
	}
	return s.base
}

// Entries implements Storage.
func (s *MemoryStorage) Entries(after int64, max int) ([]Entry, error) {
	if after < s.base {
		return nil, fmt.Errorf("zab: entries after %s, log base %s: %w", FormatZxid(after), FormatZxid(s.base), ErrCompacted)
	}
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].Zxid > after })
	j := len(s.entries)
	if max >= 0 && j-i > max {
		j = i + max
	}
	out := make([]Entry, j-i)
	copy(out, s.entries[i:j])
	return out, nil
}

// Floor implements Storage.
func (s *MemoryStorage) Floor(zxid int64) (int64, error) {
	if zxid < s.base {
		return 0, fmt.Errorf("zab: floor of %s, log base %s: %w", FormatZxid(zxid), FormatZxid(s.base), ErrCompacted)
	}
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].Zxid > zxid })
	if i == 0 {
		return s.base, nil
	}
	return s.entries[i-1].Zxid, nil
}

// AcceptedEpoch implements Storage.
func (s *MemoryStorage) AcceptedEpoch() int64 { return s.accepted }

// CurrentEpoch implements Storage.
func (s *MemoryStorage) CurrentEpoch() int64 { return s.current }

// Append adds entries to the end of the log. Their zxids must be strictly
// increasing and greater than LastZxid.
func (s *MemoryStorage) Append(ents []Entry) error {
	last := s.LastZxid()
	for _, e := range ents {
		if e.Zxid <= last {
			return fmt.Errorf("zab: append %s after %s: zxids must increase", FormatZxid(e.Zxid), FormatZxid(last))
		}
		last = e.Zxid
		s.entries = append(s.entries, e)
	}
	return nil
}

// Truncate drops every entry with zxid > zxid.
func (s *MemoryStorage) Truncate(zxid int64) error {
	if zxid < s.base {
		return fmt.Errorf("zab: truncate to %s, log base %s: %w", FormatZxid(zxid), FormatZxid(s.base), ErrCompacted)
	}
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].Zxid > zxid })
	s.entries = s.entries[:i:i]
	return nil
}

// Reset empties the log and sets its base, as installing a snapshot at
// zxid does.
func (s *MemoryStorage) Reset(zxid int64) {
	s.base = zxid
	s.entries = nil
}

// Compact drops the entries with zxid <= zxid (they are in a snapshot now)
// and moves the base to zxid.
func (s *MemoryStorage) Compact(zxid int64) error {
	if zxid < s.base || zxid > s.LastZxid() {
		return fmt.Errorf("zab: compact to %s outside [%s, %s]", FormatZxid(zxid), FormatZxid(s.base), FormatZxid(s.LastZxid()))
	}
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].Zxid > zxid })
	s.entries = append([]Entry(nil), s.entries[i:]...)
	s.base = zxid
	return nil
}

// SetEpochs records both epochs.
func (s *MemoryStorage) SetEpochs(e Epochs) {
	s.accepted = e.Accepted
	s.current = e.Current
}
