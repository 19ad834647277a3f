package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Range is the benchmarking range (RFC 2544) every lab address is taken
// from.
var Range = netip.MustParsePrefix("198.18.0.0/15")

// DefaultSubnet is a lab's subnet when Options.Subnet is not set.
var DefaultSubnet = netip.MustParsePrefix("198.18.0.0/24")

// runDir is where `ip netns` keeps the named namespaces.
const runDir = "/run/netns"

const (
	bridgeName = "br0"
	hostLink   = "eth0"
)

// ErrNoLab is returned by Open when no lab of that name exists.
var ErrNoLab = errors.New("netns: no such lab")

// ErrInvalid is the error (errors.Is) of options refused before anything
// is made: a bad name, subnet or host list.
var ErrInvalid = errors.New("netns: invalid options")

// invalidError is a refusal of options; it is ErrInvalid.
type invalidError struct{ msg string }

func (e invalidError) Error() string        { return e.msg }
func (e invalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return invalidError{fmt.Sprintf("netns: "+format, args...)}
}

// validName is the form of lab and host names: they become namespace
// names, and a '.' separates the two.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// Options describe a lab to create.
type Options struct {
	// Name names the lab and prefixes its namespaces: lowercase letters,
	// digits and '-', at most 40.
	Name string
	// Hosts are the hosts' names, unique, of the same form as Name. Host
	// i gets the subnet's (i+1)-th address.
	Hosts []string
	// Subnet is the hosts' subnet, inside Range (default DefaultSubnet).
	Subnet netip.Prefix
	// CPU limits hosts, by name, to this many cores (a CFS quota shared
	// by everything Host.Command runs there); the others are unlimited.
	CPU map[string]float64
}

// Lab is a set of hosts joined by one bridge.
type Lab struct {
	// Name is the lab's name, also the namespace of its bridge.
	Name string
	// Hosts are the lab's hosts, in the order of their addresses.
	Hosts []Host
}

// Host is one namespace of a lab.
type Host struct {
	// Name is the host's name in its lab.
	Name string
	// Namespace is its network namespace's name (Lab.Name + "." + Name),
	// as `ip netns` lists it.
	Namespace string
	// Addr is its address, on its interface eth0.
	Addr netip.Prefix
	// CPU is how many cores its processes may use together (0: no
	// limit).
	CPU float64
	// procs is its cgroup's process list when CPU is set.
	procs string
}

// Host returns the lab's host of that name.
func (l *Lab) Host(name string) (Host, bool) {
	i := slices.IndexFunc(l.Hosts, func(h Host) bool { return h.Name == name })
	if i < 0 {
		return Host{}, false
	}
	return l.Hosts[i], true
}

// Create makes the lab o describes, after removing any lab of the same
// name (a stale one: its processes are killed). On failure it removes
// what it made.
func Create(ctx context.Context, o Options) (*Lab, error) {
	if !validName.MatchString(o.Name) {
		return nil, invalid("lab name %q: want lowercase letters, digits and '-', at most 40", o.Name)
	}
	if !o.Subnet.IsValid() {
		o.Subnet = DefaultSubnet
	}
	o.Subnet = o.Subnet.Masked()
	if !o.Subnet.Addr().Is4() || o.Subnet.Bits() < Range.Bits() || !Range.Contains(o.Subnet.Addr()) || o.Subnet.Bits() > 30 {
		return nil, invalid("subnet %v: want an IPv4 subnet of %v with room for hosts (at most /30)", o.Subnet, Range)
	}
	if len(o.Hosts) == 0 {
		return nil, invalid("lab %s: no hosts", o.Name)
	}
	if max := 1<<(32-o.Subnet.Bits()) - 2; len(o.Hosts) > max {
		return nil, invalid("lab %s: %d hosts do not fit in %v (at most %d)", o.Name, len(o.Hosts), o.Subnet, max)
	}
	l := &Lab{Name: o.Name}
	addr := o.Subnet.Addr()
	for _, h := range o.Hosts {
		if !validName.MatchString(h) {
			return nil, invalid("host name %q: want lowercase letters, digits and '-', at most 40", h)
		}
		if _, dup := l.Host(h); dup {
			return nil, invalid("host %q named twice", h)
		}
		addr = addr.Next()
		l.Hosts = append(l.Hosts, Host{Name: h, Namespace: o.Name + "." + h, Addr: netip.PrefixFrom(addr, o.Subnet.Bits()), CPU: o.CPU[h]})
	}
	for h, cores := range o.CPU {
		if _, ok := l.Host(h); !ok || cores <= 0 || cores > float64(runtime.NumCPU()) {
			return nil, invalid("CPU limit %s=%g: want a host of the lab and at most %d cores", h, cores, runtime.NumCPU())
		}
	}
	if err := Remove(ctx, o.Name); err != nil {
		return nil, fmt.Errorf("netns: removing the stale lab %s: %w", o.Name, err)
	}
	if err := l.build(ctx); err != nil {
		if rerr := Remove(context.WithoutCancel(ctx), o.Name); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, fmt.Errorf("netns: create lab %s: %w", o.Name, err)
	}
	for i, h := range l.Hosts {
		if h.CPU > 0 {
			_, l.Hosts[i].procs = hostCPU(h.Namespace)
		}
	}
	return l, nil
}

// build makes the namespaces, the bridge and the links.
func (l *Lab) build(ctx context.Context) error {
	if err := ipNetns(ctx, "add", l.Name); err != nil {
		return err
	}
	sw, err := handleAt(l.Name)
	if err != nil {
		return err
	}
	defer sw.Close()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridgeName}}
	if err := sw.LinkAdd(br); err != nil {
		return fmt.Errorf("bridge %s in %s: %w", bridgeName, l.Name, err)
	}
	if err := sw.LinkSetUp(br); err != nil {
		return fmt.Errorf("bridge %s up: %w", bridgeName, err)
	}
	for i, h := range l.Hosts {
		if err := ipNetns(ctx, "add", h.Namespace); err != nil {
			return err
		}
		if err := l.plug(sw, br, i, h); err != nil {
			return fmt.Errorf("host %s: %w", h.Name, err)
		}
		if h.CPU > 0 {
			if err := limitCPU(h.Namespace, h.CPU); err != nil {
				return err
			}
		}
	}
	return nil
}

// plug joins host h to the bridge: a veth pair whose end "h<i>" is a port
// of the bridge and whose other end is eth0 in h's namespace, with h's
// address.
func (l *Lab) plug(sw *netlink.Handle, br netlink.Link, i int, h Host) error {
	ns, err := vnetns.GetFromName(h.Namespace)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", h.Namespace, err)
	}
	defer ns.Close()
	port := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: "h" + strconv.Itoa(i), MasterIndex: br.Attrs().Index},
		PeerName:      hostLink,
		PeerNamespace: netlink.NsFd(ns),
	}
	if err := sw.LinkAdd(port); err != nil {
		return fmt.Errorf("veth pair: %w", err)
	}
	if err := sw.LinkSetUp(port); err != nil {
		return fmt.Errorf("bridge port %s up: %w", port.Name, err)
	}
	hh, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", h.Namespace, err)
	}
	defer hh.Close()
	for _, name := range []string{"lo", hostLink} {
		link, err := hh.LinkByName(name)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if name == hostLink {
			a := &netlink.Addr{IPNet: &net.IPNet{IP: h.Addr.Addr().AsSlice(), Mask: net.CIDRMask(h.Addr.Bits(), 32)}}
			if err := hh.AddrAdd(link, a); err != nil {
				return fmt.Errorf("address %v on %s: %w", h.Addr, name, err)
			}
		}
		if err := hh.LinkSetUp(link); err != nil {
			return fmt.Errorf("%s up: %w", name, err)
		}
	}
	return nil
}

// Open finds the lab of that name, reading its hosts' addresses back
// from their namespaces. It returns ErrNoLab when there is none.
func Open(name string) (*Lab, error) {
	nss, err := namespaces(name)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(nss, name) {
		return nil, fmt.Errorf("%w: %q (no namespace %s)", ErrNoLab, name, name)
	}
	l := &Lab{Name: name}
	for _, ns := range nss {
		if ns == name {
			continue
		}
		h := Host{Name: strings.TrimPrefix(ns, name+"."), Namespace: ns}
		h.Addr, err = address(ns)
		if err != nil {
			return nil, err
		}
		h.CPU, h.procs = hostCPU(ns)
		l.Hosts = append(l.Hosts, h)
	}
	slices.SortFunc(l.Hosts, func(a, b Host) int { return a.Addr.Addr().Compare(b.Addr.Addr()) })
	return l, nil
}

// address reads the IPv4 address of eth0 in namespace ns.
func address(ns string) (netip.Prefix, error) {
	h, err := handleAt(ns)
	if err != nil {
		return netip.Prefix{}, err
	}
	defer h.Close()
	link, err := h.LinkByName(hostLink)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("netns: %s in %s: %w", hostLink, ns, err)
	}
	as, err := h.AddrList(link, netlink.FAMILY_V4)
	if err != nil || len(as) == 0 {
		return netip.Prefix{}, fmt.Errorf("netns: no IPv4 address on %s in %s (%v)", hostLink, ns, err)
	}
	ip, _ := netip.AddrFromSlice(as[0].IP.To4())
	bits, _ := as[0].Mask.Size()
	return netip.PrefixFrom(ip, bits), nil
}

// Labs lists the names of the labs whose names start with prefix.
func Labs(prefix string) ([]string, error) {
	return named(func(n string) bool {
		return strings.HasPrefix(n, prefix) && !strings.Contains(n, ".") && validName.MatchString(n)
	})
}

// Remove kills every process inside the lab's namespaces and deletes
// them: the hosts', then the bridge's. A lab that does not exist, or
// exists in part, is no error.
func Remove(ctx context.Context, name string) error {
	if !validName.MatchString(name) {
		return invalid("lab name %q: want lowercase letters, digits and '-'", name)
	}
	nss, err := namespaces(name)
	if err != nil {
		return err
	}
	// Hosts first: deleting a host's namespace takes its veth pair away.
	slices.SortFunc(nss, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	for _, ns := range nss {
		if err := Kill(ctx, ns); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := ipNetns(ctx, "delete", ns); err != nil {
			errs = append(errs, err)
		}
		if err := removeCPU(ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// namespaces lists the namespaces of lab name.
func namespaces(name string) ([]string, error) {
	return named(func(n string) bool { return n == name || strings.HasPrefix(n, name+".") })
}

// named lists the named network namespaces (ip netns's, under runDir)
// that keep accepts.
func named(keep func(name string) bool) ([]string, error) {
	ents, err := os.ReadDir(runDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	var out []string
	for _, e := range ents {
		if keep(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Processes lists the PIDs of the processes whose network namespace is
// the named one (a zombie has none).
func Processes(namespace string) ([]int, error) {
	var want unix.Stat_t
	if err := unix.Stat(filepath.Join(runDir, namespace), &want); err != nil {
		return nil, fmt.Errorf("netns: namespace %s: %w", namespace, err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/proc", e.Name(), "ns", "net"), &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Kill sends SIGKILL to every process in the namespace and waits, up to
// 10 s, until none is left.
func Kill(ctx context.Context, namespace string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := Processes(namespace)
		if errors.Is(err, os.ErrNotExist) || len(pids) == 0 {
			return nil
		}
		if err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("netns: processes %v in %s outlived SIGKILL for 10s", pids, namespace)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("netns: killing the processes of %s: %w", namespace, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Command returns the command that runs name with args inside the host's
// namespace (through `ip netns exec`, which execs it: the process's PID
// is the command's), with the host's name as its host name (a UTS
// namespace of its own, so that what it reports names the host). On a
// host with a CPU limit, a shell first moves itself into the host's
// cgroup and then execs ip (inside the namespace /sys is the namespace's
// own, without the cgroup mounts).
func (h Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	argv := append([]string{"ip", "netns", "exec", h.Namespace, "unshare", "--uts", "sh", "-c", `hostname "$0" && exec "$@"`, h.Name, name}, args...)
	if h.procs != "" {
		argv = append([]string{"sh", "-c", `echo $$ >"$0" && exec "$@"`, h.procs}, argv...)
	}
	return exec.CommandContext(ctx, argv[0], argv[1:]...)
}

// Do calls fn on a goroutine whose thread is in the host's namespace:
// sockets fn opens are the host's. fn must not start goroutines that
// open sockets of their own.
func (h Host) Do(fn func() error) error {
	target, err := vnetns.GetFromName(h.Namespace)
	if err != nil {
		return fmt.Errorf("netns: open %s: %w", h.Namespace, err)
	}
	defer target.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := vnetns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer orig.Close()
		if err := vnetns.Set(target); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("netns: enter %s: %w", h.Namespace, err)
			return
		}
		err = fn()
		// A thread that cannot go back stays locked: it ends with this
		// goroutine instead of serving others in the wrong namespace.
		if vnetns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

func handleAt(ns string) (*netlink.Handle, error) {
	fd, err := vnetns.GetFromName(ns)
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", ns, err)
	}
	defer fd.Close()
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", ns, err)
	}
	return h, nil
}

// ipNetns runs `ip netns op name`.
func ipNetns(ctx context.Context, op, name string) error {
	out, err := exec.CommandContext(ctx, "ip", "netns", op, name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip netns %s %s: %w: %s", op, name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Check reports why labs cannot be made here, or nil: they need root and
// iproute2's ip.
func Check() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("netns: labs need root (CAP_NET_ADMIN, CAP_SYS_ADMIN); running as uid %d", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("netns: labs need iproute2's ip: %w", err)
	}
	return nil
}

// OwnedName returns a lab name unique to this process: prefix, this
// process's PID and a random suffix. RemoveStale recognises such names.
func OwnedName(prefix string) string {
	var b [2]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", prefix, os.Getpid(), hex.EncodeToString(b[:]))
}

// RemoveStale removes the labs named by OwnedName(prefix) in processes
// that no longer run (left by a killed test, say).
func RemoveStale(ctx context.Context, prefix string) error {
	labs, err := Labs(prefix + "-")
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range labs {
		f := strings.Split(strings.TrimPrefix(l, prefix+"-"), "-")
		pid, err := strconv.Atoi(f[0])
		if err != nil || len(f) != 2 {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
			continue
		}
		if err := Remove(ctx, l); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
