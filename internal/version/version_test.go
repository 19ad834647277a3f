package version

import (
	"os/exec"
	"strings"
	"testing"
)

// TestGetUnderGoTest: go test, like go run, stamps no revision, so Get
// asks git about the source tree, which is the tree under test.
func TestGetUnderGoTest(t *testing.T) {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	want := strings.TrimSpace(string(out))
	i := Get()
	if i.Revision != want || i.Source != SourceTree {
		t.Errorf("Get() = %+v, want revision %s from %q", i, want, SourceTree)
	}
	if i.Module != "github.com/zkbench/zkbench" || i.GoVersion == "" {
		t.Errorf("Get() = %+v: module or Go version missing", i)
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		in   Info
		want string
	}{
		{Info{Version: "v1.2.3", Revision: "0123456789abcdef"}, "v1.2.3"},
		{Info{Version: "v0.0.0-20261206231922-cade53b9e860+dirty", Revision: "cade53b9e86029bc", Modified: true}, "v0.0.0-20261206231922-cade53b9e860+dirty"},
		{Info{Version: "(devel)", Revision: "0123456789abcdef"}, "0123456789ab"},
		{Info{Version: "(devel)", Revision: "0123456789abcdef", Modified: true}, "0123456789ab+dirty"},
		{Info{Version: "(devel)"}, "devel"},
		{Info{}, "devel"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBuiltByGoCommand(t *testing.T) {
	t.Setenv("GOTMPDIR", "/tmp")
	for exe, want := range map[string]bool{
		"/tmp/go-build123/b001/exe/zkbench": true,
		"/tmp/zkbin-build-1-2/zkbench":      false,
		"/work/main/bin/zkbench":            false,
	} {
		if got := builtByGoCommand(exe); got != want {
			t.Errorf("builtByGoCommand(%s) = %v, want %v", exe, got, want)
		}
	}
}
