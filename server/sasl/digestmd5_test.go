package sasl

import (
	"errors"
	"strings"
	"testing"
)

// rfcExample is one of the two exchanges of RFC 2831 section 4 (user
// chris, password secret).
type rfcExample struct {
	name, protocol, nonce, cnonce, response, rspauth string
}

var rfcExamples = []rfcExample{
	{"imap", "imap", "OA6MG9tEQGm2hh", "OA6MHXh6VqTrRk", "d388dad90d4bbd760a152321f2143af7", "ea40f60335c427b5527b84dbabcdfffd"},
	{"acap", "acap", "OA9BSXrbuRhWay", "OA9BSuZWMSpW8m", "6084c6db3fede7352c551284490fd0fc", "2f0b3d7c3c2e486600ef710726aa2eae"},
}

const rfcRealm = "elwood.innosoft.com"

func chrisSecret(user string) (string, bool) {
	if user == "chris" {
		return "secret", true
	}
	return "", false
}

func TestClientRFC2831Examples(t *testing.T) {
	for _, ex := range rfcExamples {
		t.Run(ex.name, func(t *testing.T) {
			c := NewClient("chris", "secret", "", ex.protocol, rfcRealm)
			c.cnonce = ex.cnonce
			if len(c.Start()) != 0 {
				t.Fatal("DIGEST-MD5 has no initial response")
			}
			challenge := `realm="elwood.innosoft.com",nonce="` + ex.nonce + `",qop="auth",algorithm=md5-sess,charset=utf-8`
			resp, err := c.Next([]byte(challenge))
			if err != nil {
				t.Fatal(err)
			}
			d, err := parseDirectives(resp, false)
			if err != nil {
				t.Fatalf("own response %q: %v", resp, err)
			}
			if d["response"] != ex.response || d["digest-uri"] != ex.protocol+"/"+rfcRealm || d["username"] != "chris" || d["nc"] != "00000001" {
				t.Fatalf("response %q, want response=%s", resp, ex.response)
			}
			if _, err := c.Next([]byte("rspauth=0123456789abcdef0123456789abcdef")); !errors.Is(err, ErrAuth) {
				t.Fatalf("a wrong rspauth: %v, want ErrAuth", err)
			}
			c = NewClient("chris", "secret", "", ex.protocol, rfcRealm)
			c.cnonce = ex.cnonce
			if _, err := c.Next([]byte(challenge)); err != nil {
				t.Fatal(err)
			}
			if out, err := c.Next([]byte("rspauth=" + ex.rspauth)); err != nil || out != nil || !c.Complete() {
				t.Fatalf("rspauth: %q %v complete %v", out, err, c.Complete())
			}
		})
	}
}

func TestServerRFC2831Examples(t *testing.T) {
	for _, ex := range rfcExamples {
		t.Run(ex.name, func(t *testing.T) {
			response := `charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="` + ex.nonce +
				`",nc=00000001,cnonce="` + ex.cnonce + `",digest-uri="` + ex.protocol + `/elwood.innosoft.com",response=` + ex.response + `,qop=auth`
			s := NewServer(ex.protocol, rfcRealm, chrisSecret)
			ch, err := s.Next(nil)
			if err != nil || !strings.Contains(string(ch), `realm="elwood.innosoft.com"`) || !strings.Contains(string(ch), `qop="auth"`) {
				t.Fatalf("challenge %q %v", ch, err)
			}
			s.nonce = ex.nonce // the RFC's
			out, err := s.Next([]byte(response))
			if err != nil || string(out) != "rspauth="+ex.rspauth || !s.Complete() || s.User() != "chris" {
				t.Fatalf("got %q %v complete %v user %q", out, err, s.Complete(), s.User())
			}
			if _, err := s.Next(nil); err == nil {
				t.Fatal("a token after completion was accepted")
			}
		})
	}
}

// exchange runs client against server and returns the server's error.
func exchange(t *testing.T, c *Client, s *Server) error {
	t.Helper()
	tok := c.Start()
	for i := 0; i < 3; i++ {
		out, err := s.Next(tok)
		if err != nil {
			return err
		}
		tok, err = c.Next(out)
		if err != nil {
			t.Fatalf("client: %v", err)
		}
		if s.Complete() {
			if !c.Complete() {
				t.Fatal("server complete, client not")
			}
			return nil
		}
	}
	t.Fatal("no completion after 3 rounds")
	return nil
}

func TestClientServer(t *testing.T) {
	creds := map[string]string{"bob": "b0b", "jürgen": "pässword", "ünï": "日本"}
	lookup := func(u string) (string, bool) { p, ok := creds[u]; return p, ok }
	for user, pw := range creds {
		for _, authzid := range []string{"", user} {
			s := NewServer(Protocol, ServerName, lookup)
			if err := exchange(t, NewClient(user, pw, authzid, Protocol, ServerName), s); err != nil {
				t.Fatalf("%s (authzid %q): %v", user, authzid, err)
			}
			if s.User() != user {
				t.Errorf("user %q, want %q", s.User(), user)
			}
		}
	}
	for _, tc := range []struct{ name, user, pw, service string }{
		{"wrong password", "bob", "nope", ServerName},
		{"unknown user", "eve", "b0b", ServerName},
		{"other digest-uri", "bob", "b0b", "localhost"},
	} {
		s := NewServer(Protocol, ServerName, lookup)
		err := exchange(t, NewClient(tc.user, tc.pw, "", Protocol, tc.service), s)
		if !errors.Is(err, ErrAuth) || s.Complete() || s.User() != "" {
			t.Errorf("%s: %v complete %v, want ErrAuth", tc.name, err, s.Complete())
		}
		if _, err := s.Next(nil); err == nil {
			t.Errorf("%s: the failed exchange went on", tc.name)
		}
	}
}

func TestServerBadInput(t *testing.T) {
	lookup := func(string) (string, bool) { return "x", true }
	s := NewServer(Protocol, ServerName, lookup)
	if _, err := s.Next([]byte("username=x")); err == nil {
		t.Error("an initial response was accepted")
	}
	for _, tok := range []string{
		strings.Repeat("a", MaxToken+1),
		`username="bob`,
		`username`,
		`username="bob",username="eve"`,
		`username="bob"`,
		`username="bob",nonce="n",cnonce="c",nc=00000001,digest-uri="zookeeper/zk-sasl-md5",response=00,qop=auth-conf`,
	} {
		s := NewServer(Protocol, ServerName, lookup)
		if _, err := s.Next(nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Next([]byte(tok)); err == nil {
			t.Errorf("%.40q accepted", tok)
		}
	}
}

func TestParseDirectives(t *testing.T) {
	d, err := parseDirectives([]byte(` , realm="a\"b" ,realm="second", nonce = "x,y" ,, qop=auth , `), true)
	if err != nil || d["realm"] != `a"b` || d["nonce"] != "x,y" || d["qop"] != "auth" {
		t.Fatalf("%q %v", d, err)
	}
	if _, err := parseDirectives([]byte(`realm="a",realm="b"`), false); err == nil {
		t.Error("two realms in a response accepted")
	}
}
