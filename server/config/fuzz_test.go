package config

import (
	"strings"
	"testing"
)

// FuzzParse: any input gives a Config or an *Error, never a panic; an
// accepted config's Marshal parses back to the same servers and settings.
func FuzzParse(f *testing.F) {
	f.Add(syntaxText)
	f.Add(brokenBase + "server.1=[::1]:1:2;3\nserver.2=h:1:2:observer\n")
	for _, b := range brokenCases {
		f.Add(b.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse(strings.NewReader(text), "zoo.cfg", nil)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			return
		}
		c2, err := Parse(strings.NewReader(string(c.Marshal())), "zoo.cfg", nil)
		if err != nil {
			t.Fatalf("Marshal output rejected: %v\n%s", err, c.Marshal())
		}
		// The server.N keys' spelling (server.01) is not kept, nor, with it,
		// the zookeeper.server.N properties upstream derives from them.
		if stripServerProps(render(c2)) != stripServerProps(render(c)) {
			t.Fatalf("Marshal round trip differs:\n%s\n%s", render(c), render(c2))
		}
	})
}

func stripServerProps(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "property zookeeper.server.") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
