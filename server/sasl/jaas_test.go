package sasl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleJAAS = `/* upstream's example, with every kind of comment */
Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_super="adminsecret"   // the super user
       user_bob="bob\"secret";
};
# the client's
Client {
  org.apache.zookeeper.server.auth.DigestLoginModule REQUIRED
  username="bob"
  password='bob"secret';
};
QuorumServer { org.apache.zookeeper.server.auth.DigestLoginModule required user_zk=q1; };
Kafka { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="/k" principal="zk/h@R"; };
Other { com.example.Module optional; };
`

func TestParseJAAS(t *testing.T) {
	j, err := ParseJAAS(sampleJAAS, "jaas.conf")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(j.Sections(), ","); got != "Client,Kafka,Other,QuorumServer,Server" {
		t.Fatalf("sections %s", got)
	}
	creds, err := j.Credentials("Server")
	if err != nil || len(creds) != 2 || creds["super"] != "adminsecret" || creds["bob"] != `bob"secret` {
		t.Fatalf("Server credentials %q %v", creds, err)
	}
	if creds, err := j.Credentials("QuorumServer"); err != nil || creds["zk"] != "q1" {
		t.Fatalf("QuorumServer %q %v", creds, err)
	}
	if u, p, err := j.LoginUser("Client"); err != nil || u != "bob" || p != `bob"secret` {
		t.Fatalf("Client login %q %q %v", u, p, err)
	}
	mods, _ := j.Section("Client")
	if mods[0].Flag != "required" || mods[0].Line != 9 {
		t.Errorf("Client module %+v", mods[0])
	}
	for _, tc := range []struct{ section, want string }{
		{"Missing", "No JAAS configuration section named 'Missing' was found in 'jaas.conf'"},
		{"Kafka", "jaas.conf:14: section Kafka uses Kerberos (com.sun.security.auth.module.Krb5LoginModule): GSSAPI is not supported"},
		{"Other", "jaas.conf:15: section Other: login module com.example.Module is not supported"},
		{"Client", "jaas.conf: section Client lists no user"},
	} {
		_, err := j.Credentials(tc.section)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Credentials(%s): %v, want %q", tc.section, err, tc.want)
		}
	}
	if _, _, err := j.LoginUser("Server"); err == nil || !strings.Contains(err.Error(), "no username and password") {
		t.Errorf("LoginUser(Server): %v", err)
	}
}

func TestParseJAASBadInput(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"Server {\n m required;\n};\nServer { m required; };", "j:4: section Server is given twice"},
		{"Server {\n m mandatory;\n};", `j:2: control flag "mandatory" is not`},
		{"Server {\n m required a=;\n};", "j:2: expected the value of option a, found \";\""},
		{"Server {\n m required a=1 a=2;\n};", "j:2: option a is given twice"},
		{"Server {\n m required;\n}", "j:3: expected \";\", found the end of the file"},
		{"Server { };", "j:1: section Server has no login module"},
		{"Server {\n m required a=\"x;\n};", "j:2: a quoted string does not end on its line"},
		{"/* open", "j:1: unterminated /* comment"},
		{"Server ( m required; );", "j:1: unexpected character '('"},
		{"{ m required; };", `j:1: expected a section name, found "{"`},
	} {
		_, err := ParseJAAS(tc.text, "j")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
}

func TestLoadJAAS(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadJAAS(filepath.Join(dir, "none.conf")); err == nil || !strings.Contains(err.Error(), "none.conf") {
		t.Errorf("missing file: %v", err)
	}
	p := filepath.Join(dir, "jaas.conf")
	if err := os.WriteFile(p, []byte(sampleJAAS), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := LoadJAAS(p)
	if err != nil || j.File != p {
		t.Fatalf("%v", err)
	}
	big := filepath.Join(dir, "big.conf")
	if err := os.WriteFile(big, make([]byte, MaxJAASFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadJAAS(big); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("oversized file: %v", err)
	}
}
