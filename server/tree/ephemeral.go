package tree

// Kinds of node, as upstream EphemeralType encodes them in the stored
// ephemeralOwner.
const (
	// ContainerOwner is the ephemeralOwner of a container node
	// (upstream EphemeralType.CONTAINER_EPHEMERAL_OWNER, Long.MIN_VALUE).
	ContainerOwner int64 = -1 << 63

	extendedMask      = int64(-1) << 56       // 0xff00000000000000: extended types
	reservedBitsMask  = int64(0x00ffff) << 40 // 0x00ffff0000000000: extended type id
	extendedValueMask = ^(extendedMask | reservedBitsMask)
	// MaxTTL is the largest TTL (ms) a TTL node can carry (EphemeralType.TTL.maxValue).
	MaxTTL int64 = extendedValueMask
)

// Kind is the kind of a node as derived from its stored ephemeralOwner.
type Kind uint8

// Node kinds.
const (
	KindPersistent Kind = iota // ephemeralOwner 0
	KindEphemeral              // ephemeralOwner is the owning session
	KindContainer              // ephemeralOwner is ContainerOwner
	KindTTL                    // ephemeralOwner is TTLOwner(ttl)
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindPersistent:
		return "persistent"
	case KindEphemeral:
		return "ephemeral"
	case KindContainer:
		return "container"
	case KindTTL:
		return "ttl"
	}
	return "kind(?)"
}

// TTLOwner encodes a TTL (ms, 1..MaxTTL) as the stored ephemeralOwner of a
// TTL node: 0xff in the top byte, extended type 0 (TTL) in the next two bytes,
// the TTL in the low 40 bits (upstream EphemeralType.TTL.toEphemeralOwner).
func TTLOwner(ttl int64) int64 { return extendedMask | (ttl & extendedValueMask) }

// KindOf classifies a stored ephemeralOwner (upstream EphemeralType.get with
// extended types enabled, which is the only setting under which TTL nodes can
// exist). An owner with the extended top byte but a non-TTL type id is
// treated as an ordinary ephemeral owner.
func KindOf(owner int64) Kind {
	switch {
	case owner == 0:
		return KindPersistent
	case owner == ContainerOwner:
		return KindContainer
	case owner&extendedMask == extendedMask && owner&reservedBitsMask == 0:
		return KindTTL
	}
	return KindEphemeral
}

// TTLOf returns the TTL encoded in a TTL node's ephemeralOwner.
func TTLOf(owner int64) int64 { return owner & extendedValueMask }

// clientOwner is the ephemeralOwner clients see: upstream reports 0 for
// container and TTL nodes (DataNode.getClientEphemeralOwner).
func clientOwner(owner int64) int64 {
	if KindOf(owner) == KindEphemeral {
		return owner
	}
	return 0
}
