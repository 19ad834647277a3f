// Package netns makes a lab of hosts on one Linux machine: named network
// namespaces, each with its own address in the benchmarking range
// 198.18.0.0/15, joined by veth pairs to a bridge. It is how zkbench's
// multi-host tests, `zkbench lab` and `make bench-agents` put a
// coordinator, servers and load agents on hosts of their own without a
// second machine.
//
// A lab named L is the namespaces L (the switch: only the bridge "br0" and
// one veth end per host, no address) and L.<host> for every host (loopback
// up and "eth0", the other end, with the host's address). The bridge
// lives in a namespace of its own, so no link or address of a lab is in
// the machine's own namespace, and no host has a default route: its
// packets reach the other hosts of its lab and nothing else.
//
// What Host.Command runs on a host also has the host's name as its host
// name (a UTS namespace), so that agents' reports name their hosts.
//
// Namespaces are created, entered by processes and deleted with
// iproute2's `ip netns` (it keeps /run/netns as other tools expect);
// links and addresses are made over netlink. Nothing of a lab is kept
// outside the namespaces: Open finds a lab again by its name and reads
// the hosts' addresses back, and Remove kills (SIGKILL) every process
// still inside the lab's namespaces and deletes them, whatever state a
// failed or killed creator left. Creating a lab whose name is taken
// removes the old one first.
//
// A host may be given a share of the machine's CPUs (Options.CPU), as a
// small machine of its own would have: a cgroup with a CFS quota, which
// what Host.Command starts there joins. The hosts still share the
// machine's caches, memory and disk.
//
// Everything here needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN).
package netns
