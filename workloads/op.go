package workloads

import (
	"encoding/json"
	"fmt"
)

// OpType is a kind of ZooKeeper operation a workload issues.
type OpType uint8

// The operation types. Their names (String) are the ZooKeeper API names and
// are what spec files and results use.
const (
	// GetData reads a key's value.
	GetData OpType = iota + 1
	// SetData overwrites a key's value with ValueSize bytes.
	SetData
	// Exists reads a key's stat.
	Exists
	// GetChildren lists a key's children (keys are leaves, so the list is
	// empty: this times the request path, not the list size).
	GetChildren
	// CreateDelete creates a client-private znode of ValueSize bytes and
	// deletes it again: two writes, timed as one operation.
	CreateDelete
	// Multi sets MultiSize consecutive keys (from Op.Key) in one multi.
	Multi

	numOpTypes = iota + 1 // one more than the last; 0 is invalid
)

// NumOpTypes is one more than the largest OpType, so that arrays indexed by
// OpType have room for every type.
const NumOpTypes = int(numOpTypes)

var opNames = [...]string{
	GetData:      "getData",
	SetData:      "setData",
	Exists:       "exists",
	GetChildren:  "getChildren",
	CreateDelete: "createDelete",
	Multi:        "multi",
}

// OpTypes returns every valid operation type in order.
func OpTypes() []OpType {
	out := make([]OpType, 0, NumOpTypes-1)
	for t := OpType(1); int(t) < NumOpTypes; t++ {
		out = append(out, t)
	}
	return out
}

// OpNames returns the names of every valid operation type.
func OpNames() []string {
	out := make([]string, 0, NumOpTypes-1)
	for _, t := range OpTypes() {
		out = append(out, t.String())
	}
	return out
}

// Valid reports whether t is a known operation type.
func (t OpType) Valid() bool { return t >= GetData && int(t) < NumOpTypes }

// IsRead reports whether t reads without changing the tree.
func (t OpType) IsRead() bool { return t == GetData || t == Exists || t == GetChildren }

// String returns the operation's name, e.g. "getData".
func (t OpType) String() string {
	if t.Valid() {
		return opNames[t]
	}
	return fmt.Sprintf("OpType(%d)", uint8(t))
}

// ParseOpType returns the operation type with the given name.
func ParseOpType(name string) (OpType, error) {
	for _, t := range OpTypes() {
		if opNames[t] == name {
			return t, nil
		}
	}
	return 0, fmt.Errorf("workloads: unknown operation %q", name)
}

// MarshalText encodes t as its name.
func (t OpType) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("workloads: cannot encode invalid operation type %d", uint8(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText decodes an operation name.
func (t *OpType) UnmarshalText(b []byte) error {
	p, err := ParseOpType(string(b))
	if err != nil {
		return err
	}
	*t = p
	return nil
}

var _ json.Marshaler = Op{}

// Op is one operation a client issues.
type Op struct {
	// Type is what to do.
	Type OpType
	// Key is the index (0..Keys-1) of the key it targets; a Multi targets
	// Key and the MultiSize-1 keys after it, wrapping around.
	Key int
	// Seq numbers the client's operations from 0.
	Seq int64
}

// MarshalJSON makes operation sequences readable in test failures.
func (o Op) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(`{"type":%q,"key":%d,"seq":%d}`, o.Type, o.Key, o.Seq)), nil
}
