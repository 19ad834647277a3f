package sasl

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Login module classes upstream's configurations name.
const (
	// DigestLoginModule is upstream's module for DIGEST-MD5: a server
	// section lists users as user_<name>="password", a client or learner
	// section logs in with username and password.
	DigestLoginModule = "org.apache.zookeeper.server.auth.DigestLoginModule"
	// krb5LoginModule is the JDK's Kerberos module (GSSAPI), refused here.
	krb5LoginModule = "com.sun.security.auth.module.Krb5LoginModule"
)

// MaxJAASFile bounds the JAAS file read (it is small: a few sections).
const MaxJAASFile = 1 << 20

// LoginModule is one entry of a JAAS section: the module's class, its
// control flag and its options.
type LoginModule struct {
	Class   string
	Flag    string // required, requisite, sufficient or optional (lower case)
	Options map[string]string
	Line    int
}

// JAAS is a parsed JAAS login configuration file (the format of the
// JDK's ConfigFile): sections Name { Class Flag key=value ...; ... };
// with // and /* */ comments.
type JAAS struct {
	// File is the path the configuration was read from (for messages).
	File     string
	sections map[string][]LoginModule
}

// LoadJAAS reads and parses the JAAS file at path.
func LoadJAAS(path string) (*JAAS, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("JAAS configuration: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxJAASFile+1))
	if err != nil {
		return nil, fmt.Errorf("JAAS configuration %s: %w", path, err)
	}
	if len(b) > MaxJAASFile {
		return nil, fmt.Errorf("JAAS configuration %s: longer than %d bytes", path, MaxJAASFile)
	}
	return ParseJAAS(string(b), path)
}

// Section returns the login modules of the named section (names are case
// sensitive, as the JDK's).
func (j *JAAS) Section(name string) ([]LoginModule, bool) {
	m, ok := j.sections[name]
	return m, ok
}

// Sections are the section names, sorted.
func (j *JAAS) Sections() []string {
	names := make([]string, 0, len(j.sections))
	for n := range j.sections {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Credentials are the DIGEST-MD5 users of a server section: the
// user_<name>="password" options of its DigestLoginModule entries, as
// upstream's SaslServerCallbackHandler reads them. A missing section, a
// Kerberos module or another module is an error naming the file, the
// section and the reason.
func (j *JAAS) Credentials(section string) (map[string]string, error) {
	mods, err := j.digestSection(section)
	if err != nil {
		return nil, err
	}
	creds := map[string]string{}
	for _, m := range mods {
		for k, v := range m.Options {
			if name, ok := strings.CutPrefix(k, "user_"); ok {
				creds[name] = v
			}
		}
	}
	if len(creds) == 0 {
		return nil, fmt.Errorf("%s: section %s lists no user (user_<name>=\"password\")", j.File, section)
	}
	return creds, nil
}

// LoginUser is the user name and password a client or learner section
// logs in with (DigestLoginModule's username and password options).
func (j *JAAS) LoginUser(section string) (user, password string, err error) {
	mods, err := j.digestSection(section)
	if err != nil {
		return "", "", err
	}
	for _, m := range mods {
		u, okU := m.Options["username"]
		p, okP := m.Options["password"]
		if okU && okP {
			return u, p, nil
		}
	}
	return "", "", fmt.Errorf("%s: section %s has no username and password options", j.File, section)
}

// digestSection is a section whose modules are all DigestLoginModule.
func (j *JAAS) digestSection(section string) ([]LoginModule, error) {
	mods, ok := j.sections[section]
	if !ok {
		return nil, fmt.Errorf("No JAAS configuration section named '%s' was found in '%s'", section, j.File)
	}
	for _, m := range mods {
		switch m.Class {
		case DigestLoginModule:
		case krb5LoginModule:
			return nil, fmt.Errorf("%s:%d: section %s uses Kerberos (%s): GSSAPI is not supported by this server, only DIGEST-MD5 (%s)", j.File, m.Line, section, m.Class, DigestLoginModule)
		default:
			return nil, fmt.Errorf("%s:%d: section %s: login module %s is not supported (only %s, for DIGEST-MD5)", j.File, m.Line, section, m.Class, DigestLoginModule)
		}
	}
	return mods, nil
}

// token kinds of the JAAS lexer.
const (
	tEOF = iota
	tWord
	tString
	tPunct
)

type jaasToken struct {
	kind int
	text string
	line int
}

// ParseJAAS parses the text of a JAAS file; file names it in errors.
func ParseJAAS(text, file string) (*JAAS, error) {
	toks, err := lexJAAS(text, file)
	if err != nil {
		return nil, err
	}
	j := &JAAS{File: file, sections: map[string][]LoginModule{}}
	p := &jaasParser{toks: toks, file: file}
	for p.peek().kind != tEOF {
		name, err := p.expectWord("a section name")
		if err != nil {
			return nil, err
		}
		if _, dup := j.sections[name.text]; dup {
			return nil, p.errAt(name, "section %s is given twice", name.text)
		}
		if err := p.expectPunct("{"); err != nil {
			return nil, err
		}
		var mods []LoginModule
		for !p.isPunct("}") {
			m, err := p.module()
			if err != nil {
				return nil, err
			}
			mods = append(mods, m)
		}
		p.next()
		if err := p.expectPunct(";"); err != nil {
			return nil, err
		}
		if len(mods) == 0 {
			return nil, p.errAt(name, "section %s has no login module", name.text)
		}
		j.sections[name.text] = mods
	}
	return j, nil
}

type jaasParser struct {
	toks []jaasToken
	pos  int
	file string
}

func (p *jaasParser) peek() jaasToken { return p.toks[p.pos] }

func (p *jaasParser) next() jaasToken {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *jaasParser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tPunct && t.text == s
}

func (p *jaasParser) errAt(t jaasToken, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.file, t.line, fmt.Sprintf(format, args...))
}

func describe(t jaasToken) string {
	switch t.kind {
	case tEOF:
		return "the end of the file"
	case tString:
		return fmt.Sprintf("string %q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

func (p *jaasParser) expectWord(what string) (jaasToken, error) {
	t := p.next()
	if t.kind != tWord {
		return t, p.errAt(t, "expected %s, found %s", what, describe(t))
	}
	return t, nil
}

func (p *jaasParser) expectPunct(s string) error {
	t := p.next()
	if t.kind != tPunct || t.text != s {
		return p.errAt(t, "expected %q, found %s", s, describe(t))
	}
	return nil
}

// module parses Class Flag key=value ... ;
func (p *jaasParser) module() (LoginModule, error) {
	cls, err := p.expectWord("a login module class")
	if err != nil {
		return LoginModule{}, err
	}
	flag, err := p.expectWord("a control flag")
	if err != nil {
		return LoginModule{}, err
	}
	f := strings.ToLower(flag.text)
	switch f {
	case "required", "requisite", "sufficient", "optional":
	default:
		return LoginModule{}, p.errAt(flag, "control flag %q is not required, requisite, sufficient or optional", flag.text)
	}
	m := LoginModule{Class: cls.text, Flag: f, Options: map[string]string{}, Line: cls.line}
	for !p.isPunct(";") {
		key, err := p.expectWord("an option name or ';'")
		if err != nil {
			return m, err
		}
		if err := p.expectPunct("="); err != nil {
			return m, err
		}
		v := p.next()
		if v.kind != tWord && v.kind != tString {
			return m, p.errAt(v, "expected the value of option %s, found %s", key.text, describe(v))
		}
		if _, dup := m.Options[key.text]; dup {
			return m, p.errAt(key, "option %s is given twice", key.text)
		}
		m.Options[key.text] = v.text
	}
	p.next()
	return m, nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80 ||
		strings.IndexByte("$_-*.", c) >= 0
}

// lexJAAS splits text into words, quoted strings (double or single
// quotes, with \ escapes as the JDK's StreamTokenizer) and the punctuation
// { } ; =, dropping blanks and comments.
func lexJAAS(text, file string) ([]jaasToken, error) {
	var toks []jaasToken
	line := 1
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			i++
		case strings.HasPrefix(text[i:], "//") || c == '#':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case strings.HasPrefix(text[i:], "/*"):
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: unterminated /* comment", file, line)
			}
			line += strings.Count(text[i:i+2+end], "\n")
			i += end + 4
		case c == '"' || c == '\'':
			start := line
			var b strings.Builder
			i++
			closed := false
			for i < len(text) {
				ch := text[i]
				i++
				if ch == c {
					closed = true
					break
				}
				if ch == '\n' {
					return nil, fmt.Errorf("%s:%d: a quoted string does not end on its line", file, start)
				}
				if ch == '\\' && i < len(text) {
					esc := text[i]
					i++
					switch esc {
					case 'n':
						ch = '\n'
					case 't':
						ch = '\t'
					case 'r':
						ch = '\r'
					default:
						ch = esc
					}
				}
				b.WriteByte(ch)
			}
			if !closed {
				return nil, fmt.Errorf("%s:%d: unterminated quoted string", file, start)
			}
			toks = append(toks, jaasToken{kind: tString, text: b.String(), line: start})
		case strings.IndexByte("{};=", c) >= 0:
			toks = append(toks, jaasToken{kind: tPunct, text: string(c), line: line})
			i++
		case isWordByte(c):
			s := i
			for i < len(text) && isWordByte(text[i]) {
				i++
			}
			toks = append(toks, jaasToken{kind: tWord, text: text[s:i], line: line})
		default:
			return nil, fmt.Errorf("%s:%d: unexpected character %q", file, line, c)
		}
	}
	return append(toks, jaasToken{kind: tEOF, line: line}), nil
}
