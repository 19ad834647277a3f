// Package netproxy is a loopback TCP proxy that injects network faults
// between ZooKeeper peers.
//
// A Proxy listens on one address and forwards every accepted connection to
// one target address. Each direction of traffic can be held (bytes are not
// forwarded, so the sender sees a silent peer, like a blackholed link whose
// TCP retransmissions succeed once it heals) or delayed (every chunk is
// delivered the given duration after it was read). Order within a direction
// is always preserved and no byte is ever dropped from the middle of a
// stream, so a healed link carries a valid protocol stream again.
//
// The harness gives every ordered pair of peers (from, to) its own proxy on
// each of the target's quorum and election ports, so a fault can be aimed at
// the traffic one server sends to another.
package netproxy
