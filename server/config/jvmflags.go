package config

import (
	"fmt"
	"strings"
)

// optionsWithArgument are java launcher options whose value is the next word.
var optionsWithArgument = map[string]bool{
	"-cp": true, "-classpath": true, "--class-path": true, "-p": true, "--module-path": true,
	"--upgrade-module-path": true, "--add-modules": true, "--limit-modules": true,
	"--add-opens": true, "--add-exports": true, "--add-reads": true, "--patch-module": true,
	"--enable-native-access": true,
}

// readJVMFlags collects the -D flags of SERVER_JVMFLAGS and JVMFLAGS as
// zkServer.sh passes them to java: JVMFLAGS="$SERVER_JVMFLAGS $JVMFLAGS",
// expanded unquoted, so the shell splits it on blanks and does not remove
// quotes; java keeps the last of two -D flags for one key, so JVMFLAGS wins.
// A word that is not an option would be taken by java as the main class and
// the server would not start: that is an error here.
func (p *parser) readJVMFlags(env []string) error {
	c := p.c
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v // like os.Getenv, the last one counts
		}
	}
	for _, name := range []string{"SERVER_JVMFLAGS", "JVMFLAGS"} {
		words := strings.FieldsFunc(vars[name], func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' })
		for i := 0; i < len(words); i++ {
			w := words[i]
			switch {
			case strings.HasPrefix(w, "-D"):
				k, v, _ := strings.Cut(w[2:], "=")
				if k == "" {
					return &Error{File: name, Msg: fmt.Sprintf("%q: -D needs a property name", w)}
				}
				if strings.ContainsAny(v, `"'`) {
					c.Warnings = append(c.Warnings, fmt.Sprintf("%s: -D%s has quote characters in its value %s: zkServer.sh does not remove quotes from %s, so they are part of the value", name, k, v, name))
				}
				c.envProps[k] = v
				c.Properties[k] = v
				p.flagVar[k] = name
			case optionsWithArgument[w]:
				i++
			case strings.HasPrefix(w, "-"):
				// Another JVM option (-Xmx512m, -XX:...): not a property.
			default:
				return &Error{File: name, Msg: fmt.Sprintf("word %q is not a java option: the shell splits %s on blanks without honouring quotes, and java would take %q as its main class", w, name, w)}
			}
		}
	}
	return nil
}
