package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// zkserverBin is the Go server built by TestMain, or "" if it could not be.
var zkserverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "harness-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	zkserverBin = buildZkserver(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildZkserver builds ../cmd/zkserver if it exists; it says LOUDLY why not.
func buildZkserver(dir string) string {
	if os.Getenv("HARNESS_SKIP_GO") != "" {
		fmt.Fprintln(os.Stderr, "harness: HARNESS_SKIP_GO set: NOT testing the go provider")
		return ""
	}
	src, _ := filepath.Glob("../cmd/zkserver/*.go")
	if len(src) == 0 {
		fmt.Fprintln(os.Stderr, "harness: cmd/zkserver has no Go files yet: NOT testing the go provider")
		return ""
	}
	bin := filepath.Join(dir, "zkserver")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/zkserver").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "harness: BUILD OF cmd/zkserver FAILED, NOT testing the go provider: %v\n%s\n", err, out)
		return ""
	}
	return bin
}
