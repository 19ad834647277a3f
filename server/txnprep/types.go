package txnprep

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/zkbench/zkbench/server/proto"
	"github.com/zkbench/zkbench/server/tree"
)

// Kind is what a node's ephemeralOwner field says it is (upstream
// EphemeralType).
type Kind int

// Node kinds by ephemeralOwner.
const (
	KindVoid      Kind = iota // persistent
	KindNormal                // ephemeral, owned by a session
	KindContainer             // container
	KindTTL                   // persistent with a time to live
)

// ContainerOwner is the ephemeralOwner of container nodes (Long.MIN_VALUE).
const ContainerOwner int64 = -1 << 63

const (
	extendedMask      = int64(-1) << 56 // 0xff00000000000000
	reservedBitsMask  = int64(0x00ffff0000000000)
	featureValueMask  = ^(extendedMask | reservedBitsMask)
	maxTTL            = featureValueMask
	reservedBitsShift = 40
)

// TTLOwner encodes a TTL (ms) as upstream stores it in ephemeralOwner.
func TTLOwner(ttl int64) int64 { return extendedMask | ttl }

// TTLOf decodes the TTL of a TTL node's ephemeralOwner.
func TTLOf(owner int64) int64 { return owner & featureValueMask }

// EphemeralKind classifies an ephemeralOwner value. extended says whether
// zookeeper.extendedTypesEnabled is set, which is what makes the top byte
// 0xff mean "TTL" rather than a session id.
func EphemeralKind(owner int64) Kind { return EphemeralKindExt(owner, true) }

// EphemeralKindExt is EphemeralKind with the extended-types switch explicit.
func EphemeralKindExt(owner int64, extended bool) Kind {
	if extended && owner&extendedMask == extendedMask && owner != ContainerOwner {
		if (owner&reservedBitsMask)>>reservedBitsShift == 0 {
			return KindTTL
		}
	}
	switch owner {
	case 0:
		return KindVoid
	case ContainerOwner:
		return KindContainer
	}
	return KindNormal
}

func validateTTL(mode proto.CreateMode, ttl int64) error {
	if mode.IsTTL() {
		if ttl <= 0 || ttl > maxTTL {
			return proto.ErrBadArguments
		}
		return nil
	}
	if ttl >= 0 {
		return proto.ErrBadArguments
	}
	return nil
}

// ValidatePath applies upstream's PathUtils.validatePath rules and returns
// ErrBadArguments for a path they reject.
func ValidatePath(path string) error {
	if reason := PathProblem(path); reason != "" {
		return proto.ErrBadArguments
	}
	return nil
}

// PathProblem returns why upstream would reject path, or "" if it is valid.
func PathProblem(path string) string {
	if len(path) == 0 {
		return "path length must be > 0"
	}
	if path[0] != '/' {
		return "path must start with / character"
	}
	if len(path) == 1 {
		return ""
	}
	if path[len(path)-1] == '/' {
		return "path must not end with / character"
	}
	// Java validates UTF-16 code units; Go sees runes. Every rune outside the
	// BMP is a surrogate pair in Java, and surrogates are rejected.
	runes := []rune(path)
	for i := 1; i < len(runes); i++ {
		c, last := runes[i], runes[i-1]
		switch {
		case c == 0:
			return "null character not allowed @" + strconv.Itoa(i)
		case c == '/' && last == '/':
			return "empty node name specified @" + strconv.Itoa(i)
		case c == '.' && last == '.':
			if runes[i-2] == '/' && (i+1 == len(runes) || runes[i+1] == '/') {
				return "relative paths not allowed @" + strconv.Itoa(i)
			}
		case c == '.':
			if last == '/' && (i+1 == len(runes) || runes[i+1] == '/') {
				return "relative paths not allowed @" + strconv.Itoa(i)
			}
		case c > 0 && c <= 0x1f, c >= 0x7f && c <= 0x9f, c >= 0xd800 && c <= 0xf8ff, c >= 0xfff0:
			return "invalid character @" + strconv.Itoa(i)
		}
	}
	return ""
}

// FixupACL validates a create or setACL ACL list and expands "auth" entries
// into the requester's authenticated ids, as upstream fixupACL does: an id
// whose scheme has no provider in reg is invalid, and "auth" skips the
// requester's ids of such schemes.
func FixupACL(acl []proto.ACL, auth []proto.ID, reg tree.Providers) ([]proto.ACL, error) {
	uniq := removeDuplicates(acl)
	if len(uniq) == 0 {
		return nil, proto.ErrInvalidACL
	}
	out := make([]proto.ACL, 0, len(uniq))
	for _, a := range uniq {
		switch {
		case a.ID.Scheme == "world" && a.ID.ID == "anyone":
			out = append(out, a)
		case a.ID.Scheme == "auth":
			valid := false
			for _, id := range auth {
				if reg.Registered(id.Scheme) && isAuthenticatedScheme(id.Scheme) {
					valid = true
					out = append(out, proto.ACL{Perms: a.Perms, ID: id})
				}
			}
			if !valid {
				return nil, proto.ErrInvalidACL
			}
		default:
			if !reg.Registered(a.ID.Scheme) || !validID(a.ID) {
				return nil, proto.ErrInvalidACL
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// removeDuplicates returns acl without repeated entries, keeping the first
// of each in order, as upstream removeDuplicates; a set makes it linear in
// the list, which a client sends and the prep stage's lock covers.
func removeDuplicates(acl []proto.ACL) []proto.ACL {
	seen := make(map[proto.ACL]struct{}, len(acl))
	uniq := make([]proto.ACL, 0, len(acl))
	for _, a := range acl {
		if _, dup := seen[a]; !dup {
			seen[a] = struct{}{}
			uniq = append(uniq, a)
		}
	}
	return uniq
}

// isAuthenticatedScheme mirrors AuthenticationProvider.isAuthenticated: ids
// of these schemes stand for an authenticated principal ("auth" expands to
// them); ip ids do not.
func isAuthenticatedScheme(scheme string) bool {
	return scheme == "digest" || scheme == "sasl" || scheme == "x509"
}

// validID mirrors the providers' isValid checks for the schemes this server
// knows (whether the scheme's provider is registered is the caller's
// question): digest ids are "user:hash", ip ids are an address with
// optional /bits, x509 ids a distinguished name.
func validID(id proto.ID) bool {
	switch id.Scheme {
	case "digest":
		return len(strings.Split(id.ID, ":")) == 2
	case "ip":
		return ValidIPID(id.ID)
	case "sasl":
		return validSASLID(id.ID)
	case "x509":
		// Upstream's X509AuthenticationProvider.isValid parses a DN.
		return strings.Contains(id.ID, "=")
	}
	return false
}

// validSASLID is SASLAuthenticationProvider.isValid, which parses the id
// as a Kerberos principal (KerberosName): a name with '@' must be
// name[/host]@realm, with no other '/' or '@'.
func validSASLID(id string) bool {
	at := strings.IndexByte(id, '@')
	if at < 0 {
		return true
	}
	primary, realm := id[:at], id[at+1:]
	return !strings.ContainsAny(realm, "/@") && strings.Count(primary, "/") <= 1
}

// ValidIPID reports whether s is an ip ACL id: an IPv4 or IPv6 address,
// optionally followed by /bits.
func ValidIPID(s string) bool {
	addr, bits, hasBits := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	if hasBits {
		n, err := strconv.Atoi(bits)
		if err != nil || n < 0 || n > a.BitLen() {
			return false
		}
	}
	return true
}
