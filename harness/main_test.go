package harness

import (
	"fmt"
	"os"
	"testing"

	"github.com/zkbench/zkbench/internal/testenv"
	"github.com/zkbench/zkbench/internal/zkbin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := zkbin.RemoveBuilds(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// skipGo reports whether HARNESS_SKIP_GO asks the tests to leave out the go
// provider, saying so LOUDLY.
func skipGo() bool {
	if os.Getenv("HARNESS_SKIP_GO") == "" {
		return false
	}
	fmt.Fprintln(os.Stderr, "harness: HARNESS_SKIP_GO set: NOT testing the go provider")
	return true
}

// zkserverCommand is the command line of the Go server, built once per
// test binary; a failed build fails the test.
func zkserverCommand(t *testing.T) []string {
	t.Helper()
	bin, err := zkbin.BuildZkserver()
	if err != nil {
		t.Fatal(err)
	}
	return []string{bin, "start-foreground"}
}

// needJava reports missing Java ZooKeeper through testenv.Missing.
func needJava(t *testing.T) {
	t.Helper()
	if _, err := zkbin.FindJava(zkbin.LogLog4j); err != nil {
		testenv.Missing(t, "%v", err)
	}
}
