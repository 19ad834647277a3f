package session

import (
	"crypto/subtle"
	"maps"
	"slices"
)

// SuperSecret is upstream ZooKeeperServer.superSecret, mixed into every
// session password. It carries no security weight, upstream says so itself.
const SuperSecret int64 = 0xB3415C00

// containerOwner is the ephemeralOwner of container nodes; no session may
// have this id (upstream initializeNextSessionId avoids it).
const containerOwner int64 = -1 << 63

type entry struct {
	timeout int32
	closing bool
	expiry  int64 // tick boundary at which the session expires
}

// Table tracks sessions and their expiry in ticks, as upstream
// SessionTrackerImpl over an ExpiryQueue.
type Table struct {
	tickMs   int64
	nextID   int64
	sessions map[int64]*entry
	buckets  map[int64]map[int64]struct{} // expiry boundary -> ids
}

// NewTable returns an empty table counting in ticks of tickMs (> 0), whose
// session ids start from InitialID(serverID, nowMs).
func NewTable(tickMs int64, serverID int64, nowMs int64) *Table {
	if tickMs <= 0 {
		panic("session: tick must be positive")
	}
	return &Table{
		tickMs:   tickMs,
		nextID:   InitialID(serverID, nowMs),
		sessions: make(map[int64]*entry),
		buckets:  make(map[int64]map[int64]struct{}),
	}
}

// InitialID is upstream SessionTrackerImpl.initializeNextSessionId: the
// server id in the top byte and the time in ms in the next 40 bits
// ((now << 24) >>> 8), never the container owner value.
func InitialID(serverID int64, nowMs int64) int64 {
	id := int64(uint64(nowMs<<24) >> 8)
	id |= serverID << 56
	if id == containerOwner {
		id++
	}
	return id
}

// NextID returns a new session id and advances the counter (upstream
// createSession's nextSessionId.getAndIncrement).
func (t *Table) NextID() int64 {
	id := t.nextID
	t.nextID++
	return id
}

// roundUp is ExpiryQueue.roundToNextInterval.
func (t *Table) roundUp(ms int64) int64 { return (ms/t.tickMs + 1) * t.tickMs }

func (t *Table) schedule(id int64, e *entry, timeoutMs int32, nowMs int64) {
	exp := t.roundUp(nowMs + int64(timeoutMs))
	if exp == e.expiry {
		return
	}
	if b := t.buckets[e.expiry]; b != nil {
		delete(b, id)
		if len(b) == 0 {
			delete(t.buckets, e.expiry)
		}
	}
	e.expiry = exp
	b := t.buckets[exp]
	if b == nil {
		b = make(map[int64]struct{})
		t.buckets[exp] = b
	}
	b[id] = struct{}{}
}

// Add tracks a session (upstream trackSession): a new session gets
// timeoutMs; a known one keeps its timeout, and either way the expiry is
// pushed to nowMs+timeoutMs rounded up to the next tick boundary.
func (t *Table) Add(id int64, timeoutMs int32, nowMs int64) {
	e := t.sessions[id]
	if e == nil {
		e = &entry{timeout: timeoutMs}
		t.sessions[id] = e
	}
	t.schedule(id, e, timeoutMs, nowMs)
}

// Touch renews a session's expiry by its own timeout. It reports false,
// changing nothing, if the session is unknown or closing.
func (t *Table) Touch(id int64, nowMs int64) bool {
	e := t.sessions[id]
	if e == nil || e.closing {
		return false
	}
	t.schedule(id, e, e.timeout, nowMs)
	return true
}

// Remove forgets a session (its close was applied).
func (t *Table) Remove(id int64) {
	e := t.sessions[id]
	if e == nil {
		return
	}
	if b := t.buckets[e.expiry]; b != nil {
		delete(b, id)
		if len(b) == 0 {
			delete(t.buckets, e.expiry)
		}
	}
	delete(t.sessions, id)
}

// SetClosing marks a session closing: Touch fails from now on and Closing
// reports true. Unknown ids are ignored.
func (t *Table) SetClosing(id int64) {
	if e := t.sessions[id]; e != nil {
		e.closing = true
	}
}

// Closing reports whether the session is known and closing.
func (t *Table) Closing(id int64) bool {
	e := t.sessions[id]
	return e != nil && e.closing
}

// Expired returns, sorted, the sessions whose expiry boundary is at or
// before nowMs, marks them closing and takes them off the expiry schedule
// (they stay in the table, with their timeout, until Remove), as upstream's
// expirer thread does with ExpiryQueue.poll. The caller then issues a
// closeSession for each.
func (t *Table) Expired(nowMs int64) []int64 {
	var out []int64
	for exp, b := range t.buckets {
		if exp > nowMs {
			continue
		}
		for id := range b {
			out = append(out, id)
			e := t.sessions[id]
			e.closing = true
			e.expiry = 0
		}
		delete(t.buckets, exp)
	}
	slices.Sort(out)
	return out
}

// NextExpiry returns the earliest expiry boundary scheduled, or false if no
// session is scheduled (for the driver loop's timer).
func (t *Table) NextExpiry() (int64, bool) {
	if len(t.buckets) == 0 {
		return 0, false
	}
	return slices.Min(slices.Collect(maps.Keys(t.buckets))), true
}

// Deadline returns the tick boundary at which the session will expire if
// not touched, or false if it is unknown or no longer scheduled.
func (t *Table) Deadline(id int64) (int64, bool) {
	e := t.sessions[id]
	if e == nil || e.expiry == 0 {
		return 0, false
	}
	return e.expiry, true
}

// Timeout returns the session's negotiated timeout in ms.
func (t *Table) Timeout(id int64) (int32, bool) {
	e := t.sessions[id]
	if e == nil {
		return 0, false
	}
	return e.timeout, true
}

// Sessions returns every tracked session's timeout (for snapshots).
func (t *Table) Sessions() map[int64]int32 {
	m := make(map[int64]int32, len(t.sessions))
	for id, e := range t.sessions {
		m[id] = e.timeout
	}
	return m
}

// Len is the number of tracked sessions.
func (t *Table) Len() int { return len(t.sessions) }

// Password is the password upstream gives session id: 16 bytes from
// java.util.Random seeded with id^secret (ZooKeeperServer.generatePasswd,
// with secret = SuperSecret), so a client can re-attach to a session on a
// Go server with the password a Java server gave it and vice versa.
func Password(id int64, secret int64) []byte {
	r := newJavaRandom(id ^ secret)
	p := make([]byte, 16)
	r.nextBytes(p)
	return p
}

// CheckPassword reports whether passwd is the session's password (upstream
// checkPasswd: session id 0 never matches).
func CheckPassword(id int64, secret int64, passwd []byte) bool {
	return id != 0 && subtle.ConstantTimeCompare(passwd, Password(id, secret)) == 1
}

// javaRandom is java.util.Random's 48-bit linear congruential generator.
type javaRandom struct{ seed int64 }

const (
	lcgMult = 0x5DEECE66D
	lcgAdd  = 0xB
	lcgMask = 1<<48 - 1
)

func newJavaRandom(seed int64) *javaRandom { return &javaRandom{seed: (seed ^ lcgMult) & lcgMask} }

func (r *javaRandom) next(bits uint) int32 {
	r.seed = (r.seed*lcgMult + lcgAdd) & lcgMask
	return int32(uint64(r.seed) >> (48 - bits))
}

func (r *javaRandom) nextInt() int32 { return r.next(32) }

// nextBytes is Random.nextBytes: each int fills up to 4 bytes, low byte
// first.
func (r *javaRandom) nextBytes(b []byte) {
	for i := 0; i < len(b); {
		rnd := r.nextInt()
		for n := min(len(b)-i, 4); n > 0; n-- {
			b[i] = byte(rnd)
			rnd >>= 8
			i++
		}
	}
}

// Schedule returns the expiry schedule, boundary -> session ids (sorted),
// for upstream's dump four-letter word ("Session Sets").
func (t *Table) Schedule() map[int64][]int64 {
	m := make(map[int64][]int64, len(t.buckets))
	for exp, b := range t.buckets {
		ids := slices.Collect(maps.Keys(b))
		slices.Sort(ids)
		m[exp] = ids
	}
	return m
}
