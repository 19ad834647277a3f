package zab

import "fmt"

// A zxid is a 64-bit transaction id: the high 32 bits are the epoch of the
// leader that proposed it, the low 32 bits a counter that starts at 1 in each
// epoch and grows by one per proposal.

// Zxid builds a zxid from an epoch and a counter.
func Zxid(epoch int64, counter int64) int64 { return epoch<<32 | (counter & 0xffffffff) }

// EpochOf returns the epoch part of a zxid.
func EpochOf(zxid int64) int64 { return zxid >> 32 }

// CounterOf returns the counter part of a zxid.
func CounterOf(zxid int64) int64 { return zxid & 0xffffffff }

// FormatZxid renders a zxid as upstream logs do, 0x<epoch><counter> in hex.
func FormatZxid(zxid int64) string { return fmt.Sprintf("0x%x", zxid) }

// maxCounter is the last usable counter of an epoch; upstream forces a new
// election when the counter would roll over, and so does this package.
const maxCounter = 0xfffffffe

// follows reports whether next may directly follow last in one leader's
// stream of proposals of epoch: same epoch and counter+1, or the first
// proposal of epoch after a history of earlier epochs.
func follows(last, next, epoch int64) bool {
	if EpochOf(next) != epoch {
		return false
	}
	if EpochOf(last) == epoch {
		return CounterOf(next) == CounterOf(last)+1
	}
	return EpochOf(last) < epoch && CounterOf(next) == 1
}
