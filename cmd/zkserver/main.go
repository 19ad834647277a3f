// Command zkserver is the Go ZooKeeper server.
//
//	zkserver start-foreground <zoo.cfg>
//	zkserver status <zoo.cfg>
package main

import (
	"fmt"
	"os"

	"github.com/zkbench/zkbench/server/cli"
)

func main() {
	if err := cli.NewCommand("zkserver").Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "zkserver:", err)
		os.Exit(1)
	}
}
