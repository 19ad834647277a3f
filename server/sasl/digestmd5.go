package sasl

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Upstream's names for DIGEST-MD5 (SecurityUtils and ZooKeeperSaslServer):
// the protocol and the server name make the digest-uri
// "zookeeper/zk-sasl-md5", and the server name is the realm offered.
const (
	Protocol   = "zookeeper"
	ServerName = "zk-sasl-md5"
	// Mechanism is the only mechanism implemented.
	Mechanism = "DIGEST-MD5"
)

// MaxToken bounds a DIGEST-MD5 message: RFC 2831 limits a challenge to
// 2048 bytes and a response to 4096.
const MaxToken = 4096

// ErrAuth is wrapped by every error that says the peer failed to
// authenticate (as opposed to a malformed or oversized message).
var ErrAuth = errors.New("DIGEST-MD5: authentication failed")

// Server is the server side of one DIGEST-MD5 exchange, as
// javax.security.sasl's DigestMD5Server: an empty initial response gets the
// challenge, the client's digest response gets rspauth, and the exchange
// is complete. A Server is used by one goroutine.
type Server struct {
	realm, digestURI string
	password         func(user string) (string, bool)
	rand             io.Reader

	step  int // 0 challenge next, 1 response expected, 2 complete, -1 failed
	nonce string
	user  string
}

// NewServer starts an exchange for protocol/serverName (upstream:
// Protocol, ServerName) whose passwords password looks up.
func NewServer(protocol, serverName string, password func(user string) (string, bool)) *Server {
	return &Server{realm: serverName, digestURI: protocol + "/" + serverName, password: password, rand: rand.Reader}
}

// Complete reports whether the client has authenticated.
func (s *Server) Complete() bool { return s.step == 2 }

// User is the authenticated user name ("" before Complete): upstream's
// authorization id for DIGEST-MD5 is the authentication id.
func (s *Server) User() string {
	if s.step != 2 {
		return ""
	}
	return s.user
}

// Next evaluates the client's token and returns the server's. An error
// ends the exchange: every later call fails too.
func (s *Server) Next(token []byte) ([]byte, error) {
	out, err := s.next(token)
	if err != nil {
		s.step = -1
	}
	return out, err
}

func (s *Server) next(token []byte) ([]byte, error) {
	if len(token) > MaxToken {
		return nil, fmt.Errorf("DIGEST-MD5: a response of %d bytes is longer than the %d allowed", len(token), MaxToken)
	}
	switch s.step {
	case 0:
		if len(token) != 0 {
			return nil, errors.New("DIGEST-MD5: the exchange starts with an empty initial response")
		}
		var b [16]byte
		if _, err := io.ReadFull(s.rand, b[:]); err != nil {
			return nil, fmt.Errorf("DIGEST-MD5: nonce: %w", err)
		}
		s.nonce = base64.RawStdEncoding.EncodeToString(b[:])
		s.step = 1
		return []byte(fmt.Sprintf(`realm="%s",nonce="%s",qop="auth",charset=utf-8,algorithm=md5-sess`, quote(s.realm), s.nonce)), nil
	case 1:
		return s.verify(token)
	case 2:
		return nil, errors.New("DIGEST-MD5: authentication already complete")
	}
	return nil, errors.New("DIGEST-MD5: the exchange has failed")
}

// verify checks the client's digest-response and returns rspauth.
func (s *Server) verify(token []byte) ([]byte, error) {
	d, err := parseDirectives(token, false)
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"username", "nonce", "cnonce", "nc", "digest-uri", "response"} {
		if _, ok := d[k]; !ok {
			return nil, fmt.Errorf("DIGEST-MD5: the response has no %s", k)
		}
	}
	utf := false
	if cs, ok := d["charset"]; ok {
		if !strings.EqualFold(cs, "utf-8") {
			return nil, fmt.Errorf("DIGEST-MD5: charset %q (only utf-8 may be given)", cs)
		}
		utf = true
	}
	if q, ok := d["qop"]; ok && q != "auth" {
		return nil, fmt.Errorf("DIGEST-MD5: qop %q is not offered (only auth)", q)
	}
	if d["nonce"] != s.nonce {
		return nil, fmt.Errorf("%w: the nonce is not the one the server sent", ErrAuth)
	}
	if d["nc"] != "00000001" {
		return nil, fmt.Errorf("DIGEST-MD5: nonce count %q (must be 00000001)", d["nc"])
	}
	if !strings.EqualFold(d["digest-uri"], s.digestURI) {
		return nil, fmt.Errorf("%w: digest-uri %q is not %q", ErrAuth, d["digest-uri"], s.digestURI)
	}
	user, realm := decode(d["username"], utf), decode(d["realm"], utf)
	if r, ok := d["realm"]; ok && r != s.realm {
		return nil, fmt.Errorf("%w: realm %q is not %q", ErrAuth, realm, s.realm)
	}
	pw, ok := s.password(user)
	if !ok {
		return nil, fmt.Errorf("%w: no password for user %q in realm %q", ErrAuth, user, s.realm)
	}
	a1 := a1(user, realm, pw, s.nonce, d["cnonce"], d["authzid"], utf)
	want := kd(a1, s.nonce, d["nc"], d["cnonce"], "AUTHENTICATE:"+d["digest-uri"])
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(d["response"]))) != 1 {
		return nil, fmt.Errorf("%w: wrong password for user %q", ErrAuth, user)
	}
	s.user = user
	s.step = 2
	return []byte("rspauth=" + kd(a1, s.nonce, d["nc"], d["cnonce"], ":"+d["digest-uri"])), nil
}

// Client is the client side of one DIGEST-MD5 exchange, as
// javax.security.sasl's DigestMD5Client with upstream's arguments: it has
// no initial response (Start is empty), answers the challenge, and checks
// the server's rspauth. A Client is used by one goroutine.
type Client struct {
	user, password, authzid, digestURI string
	rand                               io.Reader

	step                 int // 0 challenge expected, 1 rspauth expected, 2 complete, -1 failed
	nonce, cnonce, realm string
	utf                  bool
}

// NewClient starts an exchange as user with password towards
// protocol/serverName. authzid is sent when not empty (upstream's Java
// client sends the user name; kazoo sends none).
func NewClient(user, password, authzid, protocol, serverName string) *Client {
	return &Client{user: user, password: password, authzid: authzid, digestURI: protocol + "/" + serverName, rand: rand.Reader}
}

// Start is the initial response: DIGEST-MD5 has none, so it is empty.
func (c *Client) Start() []byte { return []byte{} }

// Complete reports whether the server has proved that it knows the
// password too.
func (c *Client) Complete() bool { return c.step == 2 }

// Next answers a server token: the challenge gets the digest response,
// rspauth is checked and gets nothing (the exchange is then complete).
func (c *Client) Next(token []byte) ([]byte, error) {
	out, err := c.next(token)
	if err != nil {
		c.step = -1
	}
	return out, err
}

func (c *Client) next(token []byte) ([]byte, error) {
	if len(token) > MaxToken {
		return nil, fmt.Errorf("DIGEST-MD5: a challenge of %d bytes is longer than the %d allowed", len(token), MaxToken)
	}
	switch c.step {
	case 0:
		return c.respond(token)
	case 1:
		d, err := parseDirectives(token, false)
		if err != nil {
			return nil, err
		}
		want := kd(a1(c.user, c.realm, c.password, c.nonce, c.cnonce, c.authzid, c.utf), c.nonce, "00000001", c.cnonce, ":"+c.digestURI)
		if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(d["rspauth"]))) != 1 {
			return nil, fmt.Errorf("%w: the server's rspauth is wrong (it does not know the password)", ErrAuth)
		}
		c.step = 2
		return nil, nil
	case 2:
		return nil, errors.New("DIGEST-MD5: authentication already complete")
	}
	return nil, errors.New("DIGEST-MD5: the exchange has failed")
}

func (c *Client) respond(challenge []byte) ([]byte, error) {
	d, err := parseDirectives(challenge, true)
	if err != nil {
		return nil, err
	}
	c.nonce = d["nonce"]
	if c.nonce == "" {
		return nil, errors.New("DIGEST-MD5: the challenge has no nonce")
	}
	if q, ok := d["qop"]; ok && !hasToken(q, "auth") {
		return nil, fmt.Errorf("DIGEST-MD5: the server offers qop %q, not auth", q)
	}
	if a, ok := d["algorithm"]; ok && a != "md5-sess" {
		return nil, fmt.Errorf("DIGEST-MD5: algorithm %q (must be md5-sess)", a)
	}
	c.utf = strings.EqualFold(d["charset"], "utf-8")
	c.realm = decode(d["realm"], c.utf)
	if c.cnonce == "" {
		var b [16]byte
		if _, err := io.ReadFull(c.rand, b[:]); err != nil {
			return nil, fmt.Errorf("DIGEST-MD5: cnonce: %w", err)
		}
		c.cnonce = base64.RawStdEncoding.EncodeToString(b[:])
	}
	resp := kd(a1(c.user, c.realm, c.password, c.nonce, c.cnonce, c.authzid, c.utf), c.nonce, "00000001", c.cnonce, "AUTHENTICATE:"+c.digestURI)
	var b strings.Builder
	if c.utf {
		b.WriteString("charset=utf-8,")
	}
	fmt.Fprintf(&b, `username="%s",`, quote(string(encode(c.user, c.utf))))
	if _, ok := d["realm"]; ok {
		fmt.Fprintf(&b, `realm="%s",`, quote(string(encode(c.realm, c.utf))))
	}
	fmt.Fprintf(&b, `nonce="%s",nc=00000001,cnonce="%s",digest-uri="%s",maxbuf=65536,response=%s,qop=auth`,
		quote(c.nonce), quote(c.cnonce), quote(c.digestURI), resp)
	if c.authzid != "" {
		fmt.Fprintf(&b, `,authzid="%s"`, quote(c.authzid))
	}
	c.step = 1
	return []byte(b.String()), nil
}

// a1 is H(A1) of RFC 2831 2.1.2.1 for md5-sess.
func a1(user, realm, password, nonce, cnonce, authzid string, utf bool) []byte {
	h := md5.New()
	h.Write(encode(user, utf))
	h.Write([]byte(":"))
	h.Write(encode(realm, utf))
	h.Write([]byte(":"))
	h.Write(encode(password, utf))
	inner := h.Sum(nil)
	a := append(inner, ":"+nonce+":"+cnonce...)
	if authzid != "" {
		a = append(a, ":"+authzid...)
	}
	sum := md5.Sum(a)
	return sum[:]
}

// kd is the response-value of RFC 2831 2.1.2.1 for qop auth:
// HEX(KD(HEX(H(A1)), nonce:nc:cnonce:qop:HEX(H(A2)))).
func kd(a1 []byte, nonce, nc, cnonce, a2 string) string {
	h2 := md5.Sum([]byte(a2))
	s := hex.EncodeToString(a1) + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + hex.EncodeToString(h2[:])
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// encode is how RFC 2831 hashes a user name, realm or password: in
// ISO 8859-1 when every character fits (always without charset=utf-8),
// else in UTF-8.
func encode(s string, utf bool) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			if utf {
				return []byte(s)
			}
			r = '?'
		}
		out = append(out, byte(r))
	}
	return out
}

// decode is the inverse of the wire form: UTF-8 with charset=utf-8 (bytes
// that are not UTF-8 are read as ISO 8859-1), ISO 8859-1 otherwise.
func decode(s string, utf bool) string {
	if utf && utf8.ValidString(s) {
		return s
	}
	rs := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		rs[i] = rune(s[i])
	}
	return string(rs)
}

// quote escapes '"' and '\' for a quoted-string.
func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// hasToken reports whether the comma-separated list has tok.
func hasToken(list, tok string) bool {
	for _, t := range strings.Split(list, ",") {
		if strings.TrimSpace(t) == tok {
			return true
		}
	}
	return false
}

// parseDirectives reads a comma-separated list of name=value directives
// (RFC 2831 2.1.1, 2.1.2: values are tokens or quoted-strings with '\'
// escapes; blanks around elements and empty elements are allowed). A
// directive given twice is an error, except realm in a challenge (the
// first is kept).
func parseDirectives(b []byte, challenge bool) (map[string]string, error) {
	d := map[string]string{}
	i, n := 0, len(b)
	skip := func() {
		for i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
			i++
		}
	}
	for {
		skip()
		for i < n && b[i] == ',' {
			i++
			skip()
		}
		if i >= n {
			return d, nil
		}
		start := i
		for i < n && b[i] != '=' && b[i] != ',' && b[i] != ' ' && b[i] != '\t' {
			i++
		}
		name := strings.ToLower(string(b[start:i]))
		skip()
		if i >= n || b[i] != '=' || name == "" {
			return nil, fmt.Errorf("DIGEST-MD5: malformed directive at byte %d", start)
		}
		i++
		skip()
		var val []byte
		if i < n && b[i] == '"' {
			i++
			closed := false
			for i < n {
				c := b[i]
				i++
				if c == '\\' && i < n {
					val = append(val, b[i])
					i++
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				val = append(val, c)
			}
			if !closed {
				return nil, fmt.Errorf("DIGEST-MD5: unterminated quoted value of %s", name)
			}
		} else {
			s := i
			for i < n && b[i] != ',' && b[i] != ' ' && b[i] != '\t' {
				i++
			}
			val = b[s:i]
		}
		skip()
		if i < n && b[i] != ',' {
			return nil, fmt.Errorf("DIGEST-MD5: expected ',' after %s at byte %d", name, i)
		}
		if _, dup := d[name]; dup {
			if challenge && name == "realm" {
				continue
			}
			return nil, fmt.Errorf("DIGEST-MD5: directive %s given twice", name)
		}
		d[name] = string(val)
	}
}
