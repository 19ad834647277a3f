package standalone

// Log is the durability stage of the write path: it makes each txn durable
// and reports it done, in submission order.
type Log interface {
	// Submit appends rec (a serialized TxnHeader + txn) with its zxid and
	// calls done once it is durable. Callbacks run in submission order.
	// The log must not use rec once it has called done: the caller
	// reuses it.
	Submit(zxid int64, rec []byte, done func(error))
	// Close drains pending submissions and releases the log.
	Close() error
}

// MemLog is a Log that keeps nothing: every txn is "durable" at once. It is
// for tests and for experiments that measure everything but the disk.
type MemLog struct{}

// Submit calls done at once.
func (MemLog) Submit(_ int64, _ []byte, done func(error)) { done(nil) }

// Close does nothing.
func (MemLog) Close() error { return nil }
