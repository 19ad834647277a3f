package config

import (
	"math/rand"
	"strings"
	"testing"
)

// TestMarshalRoundTripMutations mutates the table configs at random
// (seeded): Parse must not panic, and every accepted result must survive
// Marshal and Parse unchanged.
func TestMarshalRoundTripMutations(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	rng := rand.New(rand.NewSource(1))
	alphabet := "=:\\ \t\n\r#!u0123456789abcdef.server;[]|/observerdataDirclientPort"
	seeds := []string{syntaxText, brokenBase + "server.1=[::1]:1:2;3\nserver.2=h:1:2:observer\n"}
	for _, b := range brokenCases {
		seeds = append(seeds, b.text)
	}
	for i := 0; i < n; i++ {
		b := []byte(seeds[rng.Intn(len(seeds))])
		for k := 0; k < 1+rng.Intn(8); k++ {
			pos := rng.Intn(len(b) + 1)
			c := alphabet[rng.Intn(len(alphabet))]
			switch rng.Intn(3) {
			case 0:
				if pos < len(b) {
					b[pos] = c
				}
			case 1:
				b = append(b[:pos], append([]byte{c}, b[pos:]...)...)
			default:
				if pos < len(b) {
					b = append(b[:pos], b[pos+1:]...)
				}
			}
		}
		c, err := Parse(strings.NewReader(string(b)), "zoo.cfg", nil)
		if err == nil {
			c2, err := Parse(strings.NewReader(string(c.Marshal())), "zoo.cfg", nil)
			if err != nil {
				t.Fatalf("marshal rejected: %v\n%q\n%s", err, b, c.Marshal())
			}
			if stripServerProps(render(c2)) != stripServerProps(render(c)) {
				t.Fatalf("differs for %q:\n%s\n%s", b, render(c), render(c2))
			}
		}
	}
}
