package session

import (
	"encoding/hex"
	"reflect"
	"testing"
)

// Expected values computed with java.util.Random and the shift expression of
// upstream initializeNextSessionId on OpenJDK 17 (see the report).
func TestPasswordMatchesJavaRandom(t *testing.T) {
	for _, tc := range []struct {
		id   int64
		want string
	}{
		{0x0100000000000001, "054cc74a37327db215e702e20c73f005"},
		{0x0123456789abcdef, "f7cd1b8b3f946c477425d41be3f667c6"},
		{-1, "20f62cb5648dc2d771471c8a2486a9ee"},
		{1, "054cc74a37327db215e702e20c73f005"}, // Random keeps 48 bits of the seed
		{0x7f0000018a2b3c4d, "47d60c2198970fc05be2a94ef9ac4eb2"},
	} {
		got := hex.EncodeToString(Password(tc.id, SuperSecret))
		if got != tc.want {
			t.Errorf("Password(%#x) = %s, want %s", tc.id, got, tc.want)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	id := int64(0x0123456789abcdef)
	p := Password(id, SuperSecret)
	if !CheckPassword(id, SuperSecret, p) {
		t.Fatal("own password rejected")
	}
	bad := append([]byte(nil), p...)
	bad[15] ^= 1
	for name, pw := range map[string][]byte{"flipped": bad, "short": p[:15], "nil": nil} {
		if CheckPassword(id, SuperSecret, pw) {
			t.Errorf("%s password accepted", name)
		}
	}
	if CheckPassword(0, SuperSecret, Password(0, SuperSecret)) {
		t.Error("session 0 accepted")
	}
	if CheckPassword(id, SuperSecret+1, p) {
		t.Error("password accepted under another secret")
	}
}

func TestInitialID(t *testing.T) {
	now := int64(1700000000123)
	for _, tc := range []struct {
		sid  int64
		want uint64
	}{
		{1, 0x18bcfe5687b0000},
		{5, 0x58bcfe5687b0000},
		{255, 0xff8bcfe5687b0000},
	} {
		if got := uint64(InitialID(tc.sid, now)); got != tc.want {
			t.Errorf("InitialID(%d) = %#x, want %#x", tc.sid, got, tc.want)
		}
	}
	if got := InitialID(0x80, 0); got != containerOwner+1 {
		t.Errorf("InitialID hitting the container owner = %#x", got)
	}
	tb := NewTable(2000, 3, now)
	a, b := tb.NextID(), tb.NextID()
	if a != InitialID(3, now) || b != a+1 {
		t.Errorf("NextID = %#x, %#x", a, b)
	}
}

func TestExpiryRoundsToTicks(t *testing.T) {
	const tick = 2000
	for _, tc := range []struct {
		now      int64
		timeout  int32
		deadline int64
	}{
		{0, 4000, 6000},    // exactly on a boundary: the next one
		{1, 4000, 6000},    // 4001 -> 6000
		{1999, 4000, 6000}, // 5999 -> 6000
		{2000, 4000, 8000}, // 6000 -> 8000
		{100, 30000, 32000},
	} {
		tb := NewTable(tick, 1, 0)
		tb.Add(7, tc.timeout, tc.now)
		d, ok := tb.Deadline(7)
		if !ok || d != tc.deadline {
			t.Errorf("now %d timeout %d: deadline %d, want %d", tc.now, tc.timeout, d, tc.deadline)
		}
		if got := tb.Expired(tc.deadline - 1); len(got) != 0 {
			t.Errorf("now %d timeout %d: expired at %d: %v", tc.now, tc.timeout, tc.deadline-1, got)
		}
		if got := tb.Expired(tc.deadline); !reflect.DeepEqual(got, []int64{7}) {
			t.Errorf("now %d timeout %d: Expired(%d) = %v", tc.now, tc.timeout, tc.deadline, got)
		}
	}
}

func TestTableLifecycle(t *testing.T) {
	tb := NewTable(1000, 1, 0)
	tb.Add(1, 3000, 0) // deadline 4000
	tb.Add(2, 5000, 0) // deadline 6000
	tb.Add(3, 3000, 0) // deadline 4000
	if to, ok := tb.Timeout(2); !ok || to != 5000 {
		t.Fatalf("Timeout(2) = %d %v", to, ok)
	}
	if _, ok := tb.Timeout(99); ok {
		t.Fatal("Timeout of unknown session")
	}
	if !tb.Touch(1, 2500) { // deadline 6000
		t.Fatal("Touch(1) failed")
	}
	if tb.Touch(99, 2500) {
		t.Fatal("Touch of unknown session succeeded")
	}
	if got := tb.Schedule(); !reflect.DeepEqual(got, map[int64][]int64{4000: {3}, 6000: {1, 2}}) {
		t.Fatalf("Schedule = %v", got)
	}
	if next, ok := tb.NextExpiry(); !ok || next != 4000 {
		t.Fatalf("NextExpiry = %d %v", next, ok)
	}
	if got := tb.Expired(4000); !reflect.DeepEqual(got, []int64{3}) {
		t.Fatalf("Expired(4000) = %v", got)
	}
	if !tb.Closing(3) || tb.Touch(3, 4000) {
		t.Fatal("expired session not closing, or touchable")
	}
	if got := tb.Expired(4500); len(got) != 0 {
		t.Fatalf("Expired again: %v", got)
	}
	// A session marked closing by a client's closeSession stays scheduled
	// but cannot be touched.
	tb.SetClosing(2)
	if tb.Touch(2, 4500) {
		t.Fatal("closing session touched")
	}
	if got := tb.Expired(10000); !reflect.DeepEqual(got, []int64{1, 2}) {
		t.Fatalf("Expired(10000) = %v", got)
	}
	if got := tb.Sessions(); !reflect.DeepEqual(got, map[int64]int32{1: 3000, 2: 5000, 3: 3000}) {
		t.Fatalf("Sessions = %v", got)
	}
	tb.Remove(1)
	tb.Remove(2)
	tb.Remove(3)
	tb.Remove(3)
	if tb.Len() != 0 {
		t.Fatalf("Len = %d after removes", tb.Len())
	}
	if _, ok := tb.NextExpiry(); ok {
		t.Fatal("NextExpiry with no sessions")
	}
	// Re-adding a known session keeps its timeout but reschedules it with
	// the given one (upstream trackSession).
	tb.Add(5, 2000, 0)
	tb.Add(5, 9000, 0)
	if to, _ := tb.Timeout(5); to != 2000 {
		t.Fatalf("re-added session timeout = %d", to)
	}
	if d, _ := tb.Deadline(5); d != 10000 {
		t.Fatalf("re-added session deadline = %d", d)
	}
	// Removing a scheduled session unschedules it.
	tb.Remove(5)
	if got := tb.Expired(1 << 40); len(got) != 0 {
		t.Fatalf("removed session expired: %v", got)
	}
}
