package election

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is returned (wrapped) by DecodeNotification for bytes that
// are not a notification.
var ErrMalformed = errors.New("election: malformed notification")

// Notification sizes of the three generations of the format.
const (
	sizeV0NoPeerEpoch = 28 // state, leader, zxid, election epoch
	sizeV1            = 40 // + peer epoch, version (read as version 0)
)

// EncodeNotification returns n in upstream's notification layout (all
// big-endian): state int, leader long, zxid long, election epoch long, peer
// epoch long, version int and, for version 2 and later, config length int
// followed by the config bytes (upstream sends its quorum configuration
// there; nil is valid). From and To are not encoded: the connection names
// the sender. n.Version is written as given; versions below 2 carry no
// config and config must then be empty.
func EncodeNotification(n Notification, config []byte) []byte {
	if n.Version < 2 && len(config) > 0 {
		panic(fmt.Sprintf("election: notification version %d cannot carry config", n.Version))
	}
	size := sizeV1
	if n.Version >= 2 {
		size += 4 + len(config)
	}
	b := make([]byte, 0, size)
	b = binary.BigEndian.AppendUint32(b, uint32(n.State))
	b = binary.BigEndian.AppendUint64(b, uint64(n.Vote.Leader))
	b = binary.BigEndian.AppendUint64(b, uint64(n.Vote.Zxid))
	b = binary.BigEndian.AppendUint64(b, uint64(n.Vote.ElectionEpoch))
	b = binary.BigEndian.AppendUint64(b, uint64(n.Vote.PeerEpoch))
	b = binary.BigEndian.AppendUint32(b, uint32(n.Version))
	if n.Version >= 2 {
		b = binary.BigEndian.AppendUint32(b, uint32(len(config)))
		b = append(b, config...)
	}
	return b
}

// DecodeNotification parses a notification as upstream's WorkerReceiver
// does, accepting the two older layouts: 28 bytes (no peer epoch; it is
// taken from the zxid's high 32 bits) and exactly 40 bytes (peer epoch and
// a version field that upstream ignores: it reads as version 0).
// It returns the config bytes of a version 2+ notification (nil otherwise).
// From and To are left zero for the caller to fill in. Bytes after the
// config are ignored, as upstream ignores them.
func DecodeNotification(b []byte) (Notification, []byte, error) {
	var n Notification
	if len(b) < sizeV0NoPeerEpoch {
		return n, nil, fmt.Errorf("%w: %d bytes, need at least %d", ErrMalformed, len(b), sizeV0NoPeerEpoch)
	}
	state := int32(binary.BigEndian.Uint32(b[0:]))
	if state < int32(Looking) || state > int32(Observing) {
		return n, nil, fmt.Errorf("%w: unknown state %d", ErrMalformed, state)
	}
	n.State = State(state)
	n.Vote.Leader = int64(binary.BigEndian.Uint64(b[4:]))
	n.Vote.Zxid = int64(binary.BigEndian.Uint64(b[12:]))
	n.Vote.ElectionEpoch = int64(binary.BigEndian.Uint64(b[20:]))
	if len(b) == sizeV0NoPeerEpoch {
		n.Vote.PeerEpoch = n.Vote.Zxid >> 32
		return n, nil, nil
	}
	if len(b) < sizeV1 {
		return n, nil, fmt.Errorf("%w: %d bytes: truncated peer epoch or version", ErrMalformed, len(b))
	}
	n.Vote.PeerEpoch = int64(binary.BigEndian.Uint64(b[28:]))
	if len(b) == sizeV1 {
		return n, nil, nil
	}
	n.Version = int32(binary.BigEndian.Uint32(b[36:]))
	if n.Version <= 1 {
		return n, nil, nil
	}
	rest := b[sizeV1:]
	if len(rest) < 4 {
		return n, nil, fmt.Errorf("%w: version %d without config length", ErrMalformed, n.Version)
	}
	clen := int32(binary.BigEndian.Uint32(rest))
	rest = rest[4:]
	if clen < 0 || int(clen) > len(rest) {
		return n, nil, fmt.Errorf("%w: config length %d with %d bytes left", ErrMalformed, clen, len(rest))
	}
	var config []byte
	if clen > 0 {
		config = append([]byte(nil), rest[:clen]...)
	}
	return n, config, nil
}
