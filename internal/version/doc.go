// Package version says which build of zkbench is running: the module
// version, the VCS revision it was built from and whether the tree had
// local changes, and where those facts came from.
//
// The revision comes from the first of:
//
//  1. the Go toolchain's VCS stamp (go build with -buildvcs=true or auto);
//  2. the linker flags the Makefile passes when the toolchain stamps
//     nothing (this machine's GOFLAGS holds -buildvcs=false):
//     -X github.com/zkbench/zkbench/internal/version.revision=<sha>
//     -X github.com/zkbench/zkbench/internal/version.modified=true|false;
//  3. for a binary that go run or go test built a moment ago (it lives in
//     the go command's temporary go-build directory, and go run never
//     stamps), git asked about the source tree the binary was compiled
//     from, which is the tree it runs from.
//
// A binary with none of these has no revision: Info says so rather than
// guess.
package version
