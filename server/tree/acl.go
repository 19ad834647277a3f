package tree

import (
	"strconv"
	"strings"

	"github.com/zkbench/zkbench/server/proto"
)

// OpenACLID is the ACL reference upstream's ReferenceCountedACLCache uses for
// proto.OpenACLUnsafe (OPEN_UNSAFE_ACL_ID): it is never stored in the cache.
const OpenACLID int64 = -1

// aclCache interns ACL lists as int64 references with reference counts, as
// upstream ReferenceCountedACLCache: ids count up from 1, a list that nobody
// uses any more is dropped, and a nil list is OpenACLID.
type aclCache struct {
	byID  map[int64][]proto.ACL
	byKey map[string]int64
	refs  map[int64]int64
	index int64
}

func newACLCache() *aclCache {
	return &aclCache{
		byID:  make(map[int64][]proto.ACL),
		byKey: make(map[string]int64),
		refs:  make(map[int64]int64),
	}
}

// aclKey is a map key equal for equal ACL lists (order matters, as in Java's
// List.equals).
func aclKey(acl []proto.ACL) string {
	var b strings.Builder
	for _, a := range acl {
		b.WriteString(strconv.FormatInt(int64(a.Perms), 10))
		b.WriteByte(0)
		b.WriteString(a.ID.Scheme)
		b.WriteByte(0)
		b.WriteString(a.ID.ID)
		b.WriteByte(0)
	}
	return b.String()
}

// convert returns the reference for acl, interning it if new, and counts one
// more use of it.
func (c *aclCache) convert(acl []proto.ACL) int64 {
	if acl == nil {
		return OpenACLID
	}
	k := aclKey(acl)
	id, ok := c.byKey[k]
	if !ok {
		c.index++
		id = c.index
		c.byID[id] = append([]proto.ACL(nil), acl...)
		c.byKey[k] = id
	}
	c.addUsage(id)
	return id
}

// get returns the list for a reference (nil for an unknown one).
func (c *aclCache) get(id int64) []proto.ACL {
	if id == OpenACLID {
		return proto.OpenACLUnsafe
	}
	return c.byID[id]
}

func (c *aclCache) addUsage(id int64) {
	if id == OpenACLID {
		return
	}
	if _, ok := c.byID[id]; !ok {
		return
	}
	c.refs[id]++
}

func (c *aclCache) removeUsage(id int64) {
	if id == OpenACLID {
		return
	}
	acl, ok := c.byID[id]
	if !ok {
		return
	}
	c.refs[id]--
	if c.refs[id] <= 0 {
		delete(c.refs, id)
		delete(c.byKey, aclKey(acl))
		delete(c.byID, id)
	}
}

// load replaces the cache with a snapshot's map, all counts zero (Restore
// counts uses as it adds nodes, then purges the unused ones).
func (c *aclCache) load(m map[int64][]proto.ACL) {
	*c = *newACLCache()
	for id, acl := range m {
		if id > c.index {
			c.index = id
		}
		cp := append([]proto.ACL{}, acl...)
		c.byID[id] = cp
		c.byKey[aclKey(cp)] = id
		c.refs[id] = 0
	}
}

func (c *aclCache) purgeUnused() {
	for id, n := range c.refs {
		if n <= 0 {
			delete(c.refs, id)
			delete(c.byKey, aclKey(c.byID[id]))
			delete(c.byID, id)
		}
	}
}

func (c *aclCache) snapshot() map[int64][]proto.ACL {
	m := make(map[int64][]proto.ACL, len(c.byID))
	for id, acl := range c.byID {
		m[id] = append([]proto.ACL(nil), acl...)
	}
	return m
}

// Providers says which optional authentication providers a server has
// registered, as upstream's ProviderRegistry: ip and digest are always
// registered; sasl only when an authProvider.N names
// SASLAuthenticationProvider; x509 when authProvider.x509 names
// X509AuthenticationProvider or a secure client port is configured. An ACL
// id of a scheme without its provider is refused on create and setACL and
// never matches. The zero value registers ip and digest only.
type Providers struct {
	// SASL registers the sasl scheme.
	SASL bool
	// X509 registers the x509 scheme.
	X509 bool
}

// Registered reports whether scheme's provider is registered.
func (p Providers) Registered(scheme string) bool {
	switch scheme {
	case "ip", "digest":
		return true
	case "sasl":
		return p.SASL
	case "x509":
		return p.X509
	}
	return false
}

// CheckACL reports whether ids (a session's authenticated identities) grant
// perm on a node with the given ACL, as upstream ZooKeeperServer.checkACL with
// the providers reg registers:
//
//   - an empty ACL grants everything;
//   - an id with scheme "super" grants everything;
//   - an entry whose Perms include perm grants it if its id is world:anyone,
//     or its scheme's provider is registered and it matches one of ids of
//     the same scheme: "digest" by exact equality, "ip" by address with an
//     optional "/bits" prefix length (IPv4 only, as upstream 3.8's
//     IPAuthenticationProvider), "x509" (a TLS client certificate's
//     subject) by exact equality as upstream's X509AuthenticationProvider,
//     "sasl" (a SASL login's user) by equality or when the user is
//     "super", as upstream's SASLAuthenticationProvider. Other schemes
//     never match (custom providers are not supported).
//
// Skipping ACL checks (zookeeper.skipACL) is the caller's business.
func CheckACL(acl []proto.ACL, perm int32, ids []proto.ID, reg Providers) bool {
	if len(acl) == 0 {
		return true
	}
	for _, id := range ids {
		if id.Scheme == "super" {
			return true
		}
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.ID.Scheme == "world" && a.ID.ID == "anyone" {
			return true
		}
		if !reg.Registered(a.ID.Scheme) {
			continue
		}
		for _, id := range ids {
			if id.Scheme != a.ID.Scheme {
				continue
			}
			switch a.ID.Scheme {
			case "ip":
				if ipMatches(id.ID, a.ID.ID) {
					return true
				}
			case "digest", "x509":
				if id.ID == a.ID.ID {
					return true
				}
			case "sasl":
				// SASLAuthenticationProvider.matches: the same id, or
				// the sasl user named super.
				if id.ID == a.ID.ID || id.ID == "super" {
					return true
				}
			}
		}
	}
	return false
}

// ipMatches is upstream IPAuthenticationProvider.matches for IPv4: expr is
// "a.b.c.d" or "a.b.c.d/bits".
func ipMatches(addr, expr string) bool {
	ipExpr, bitsStr, hasBits := strings.Cut(expr, "/")
	want, ok := ipv4Bytes(ipExpr)
	if !ok {
		return false
	}
	bits := 32
	if hasBits {
		n, err := strconv.Atoi(bitsStr)
		if err != nil || n < 0 || n > 32 {
			return false
		}
		bits = n
	}
	got, ok := ipv4Bytes(addr)
	if !ok {
		return false
	}
	mask := ^uint32(0)
	if bits < 32 {
		mask = ^(^uint32(0) >> bits)
	}
	return want&mask == got&mask
}

// ValidIPExpr reports whether expr is a valid "ip" ACL id (upstream
// IPAuthenticationProvider.isValid, IPv4 only).
func ValidIPExpr(expr string) bool {
	ipExpr, bitsStr, hasBits := strings.Cut(expr, "/")
	if _, ok := ipv4Bytes(ipExpr); !ok {
		return false
	}
	if hasBits {
		n, err := strconv.Atoi(bitsStr)
		return err == nil && n >= 0 && n <= 32
	}
	return true
}

func ipv4Bytes(s string) (uint32, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return 0, false
	}
	var v uint32
	for _, p := range parts {
		n, err := strconv.Atoi(p) // like Integer.parseInt: accepts a sign
		if err != nil || n < 0 || n > 255 {
			return 0, false
		}
		v = v<<8 | uint32(n)
	}
	return v, true
}
