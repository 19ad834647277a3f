package harness_test

import (
	"fmt"
	"time"

	"github.com/zkbench/zkbench/harness"
)

func ExampleParseSchedule() {
	s, err := harness.ParseSchedule(`
at 10s kill follower as a   # event 1
at 15s restart a
at 20s freeze leader; at 22s thaw it
at 30s delay 2 50ms
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(s)
	_, err = harness.ParseSchedule("at 10s kill follower\nat 5s restart it")
	fmt.Println(err)
	// Output:
	// at 10s kill follower as a # event 1
	// at 15s restart a
	// at 20s freeze leader
	// at 22s thaw it
	// at 30s delay 2 50ms
	// harness: schedule line 2: time 5s is before the previous step's 10s
}

func ExamplePaperSchedule() {
	fmt.Print(harness.PaperSchedule(150 * time.Second))
	// Output:
	// at 15s kill follower as f1 # 1
	// at 25s restart f1 # 1
	// at 37.5s kill follower as f2 # 2
	// at 47.5s restart f2 # 2
	// at 1m0s kill leader as l1 # 3
	// at 1m10s restart l1 # 3
	// at 1m30s kill follower as f3 # 4
	// at 1m30s kill follower as f4 # 4
	// at 1m40s restart f3 # 4
	// at 1m40s restart f4 # 4
	// at 2m0s kill leader as l2 # 5
	// at 2m10s restart l2 # 5
}
