// Package netfault drops packets between this host and chosen peers with
// nftables, so that a partition between hosts is real: the kernel discards
// the packets, as a failed switch or a firewall would, and TCP sees a
// silent peer.
//
// A Filter owns one table of the inet family (by default "zkbench") in one
// network namespace (the caller's, or the one Options.NetNS names), with
// two base chains, "input" and "output", of type filter and policy accept.
// Partition replaces the rules of both chains, in one atomic batch, by one
// drop rule per peer address and direction:
//
//	In   input:  ip saddr <peer> drop    (what the peers send is lost)
//	Out  output: ip daddr <peer> drop    (what this host sends them is lost)
//	Both both of the above
//
// Heal removes every rule (the chains stay, empty), Close removes the
// table. Open removes a table of the same name left by an earlier process
// (one killed before it could Close) before creating its own, so a
// partition never outlives the next start. Nothing outside the Filter's
// table is touched.
//
// The rules match addresses only: every packet between this host and a
// peer is dropped, whatever its port. Clients elsewhere still reach this
// host, but a peer address that is also this host's own address, or a
// loopback address, would cut the host off from itself; callers refuse
// such peers (package agent does).
//
// A packet the output chain drops is refused to its sender: a connect or
// a datagram from this host to a peer fails at once with EPERM, where a
// broken link would leave it waiting; TCP's retransmissions of an
// established connection are dropped silently. What the peers send is
// dropped on arrival, silently, as on a broken link.
//
// Check says plainly why nftables cannot be used here (not root and no
// CAP_NET_ADMIN, no netlink, no nf_tables in the kernel) by probing with a
// table of its own that it removes at once.
package netfault
