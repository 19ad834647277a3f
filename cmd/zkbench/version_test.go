package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkbench/zkbench/bench"
	"github.com/zkbench/zkbench/internal/version"
)

// TestVersionOfBuilds builds zkbench the ways people build it and checks
// that `zkbench version --json` names the checkout's commit, or says it
// does not know it: make's -ldflags, go build with a VCS stamp, and
// go build under this machine's GOFLAGS=-buildvcs=false alone.
func TestVersionOfBuilds(t *testing.T) {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	head := strings.TrimSpace(string(out))
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mk, err := exec.Command("make", "-s", "-C", root, "print-ldflags").Output()
	if err != nil {
		t.Fatalf("make print-ldflags: %v", err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		flags  []string
		source string
	}{
		{"make", []string{"-buildvcs=false", "-ldflags", strings.TrimSpace(string(mk))}, version.SourceLinker},
		{"vcs", []string{"-buildvcs=true"}, version.SourceVCS},
		{"unstamped", []string{"-buildvcs=false"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := filepath.Join(dir, tc.name)
			args := append(append([]string{"build", "-o", bin}, tc.flags...), ".")
			if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
				t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			out, err := exec.Command(bin, "version", "--json").Output()
			if err != nil {
				t.Fatalf("%s version --json: %v", bin, err)
			}
			var got version.Info
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			want := head
			switch tc.source {
			case "":
				want = ""
			case version.SourceLinker:
				// What make stamped (HEAD may have moved since: the
				// checkout is shared).
				_, rest, _ := strings.Cut(string(mk), ".revision=")
				want, _, _ = strings.Cut(rest, " ")
			}
			if got.Revision != want || got.Source != tc.source || got.Module != "github.com/zkbench/zkbench" {
				t.Errorf("%s build: %+v, want revision %q from %q", tc.name, got, want, tc.source)
			}
			text, err := exec.Command(bin, "version").Output()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(text), "zkbench "+got.String()) {
				t.Errorf("zkbench version: %q, want it to start with zkbench %s", text, got.String())
			}
		})
	}
}

// TestVersionInResult: every result records the zkbench version that
// wrote it, and zkbench version prints it.
func TestVersionInResult(t *testing.T) {
	want := version.Get()
	if want.Revision == "" {
		t.Fatalf("this test binary knows no revision: %+v", want)
	}
	b := bench.BuildInfo("")
	if b.Revision != want.Revision || b.Version != want.String() || b.RevisionSource != want.Source {
		t.Errorf("bench.BuildInfo = %+v, want revision, version and source of %+v", b, want)
	}
	stdout, _, err := zkbench(t, "version")
	if err != nil || !strings.Contains(stdout, want.String()) || !strings.Contains(stdout, want.Revision) {
		t.Errorf("zkbench version: %q, %v; want %+v", stdout, err, want)
	}
}
