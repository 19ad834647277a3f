// Package testenv holds the one rule for tests whose dependency (Java
// ZooKeeper, a Debian client, a shared fixture) is missing: skip loudly on
// a developer's machine, fail in CI (CI=true), where .ci/run installs every
// dependency and a skip would hide a broken test. It imports nothing of the
// project, so any package's tests can use it.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// Missing reports a missing dependency: t.Fatalf under CI, a loud
// t.Skipf otherwise.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("CI must provide this test's dependency: %s", msg)
	}
	t.Skipf("SKIPPING: %s", msg)
}
