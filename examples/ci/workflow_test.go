package ci

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

// lint runs actionlint (without shellcheck, which this machine and CI do
// not install) on a workflow's text, as if it sat where users put it.
func lint(t *testing.T, src []byte) []*actionlint.Error {
	t.Helper()
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint(".github/workflows/zkbench.yml", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	return errs
}

func TestWorkflowPassesActionlint(t *testing.T) {
	src, err := os.ReadFile("zkbench.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range lint(t, src) {
		t.Errorf("zkbench.yml:%d:%d: %s [%s]", e.Line, e.Column, e.Message, e.Kind)
	}
	// The workflow uses the commands and exit codes zkbench has.
	for _, want := range []string{"make build", "bin/zkbench run", "bin/zkbench regress --baseline", "bin/zkbench history", "--fail-on-regression", "1) echo", "2) echo"} {
		if !bytes.Contains(src, []byte(want)) {
			t.Errorf("zkbench.yml lacks %q", want)
		}
	}
}

// TestActionlintCatchesMistakes makes sure the linter is really at work:
// the same workflow with a misspelt key and an unknown context fails.
func TestActionlintCatchesMistakes(t *testing.T) {
	src, err := os.ReadFile("zkbench.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"runs-on: ubuntu-latest", "run-on: ubuntu-latest", "run-on"},
		{"github.event_name == 'push'", "github.event_nam == 'push'", "event_nam"},
	} {
		bad := strings.Replace(string(src), tc.from, tc.to, 1)
		if bad == string(src) {
			t.Fatalf("zkbench.yml has no %q to break", tc.from)
		}
		errs := lint(t, []byte(bad))
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Message)
		}
		if !strings.Contains(strings.Join(msgs, "\n"), tc.want) {
			t.Errorf("%q -> %q: actionlint said %q", tc.from, tc.to, msgs)
		}
	}
}
