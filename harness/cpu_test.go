package harness

import (
	"math"
	"os"
	"testing"
	"time"
)

func TestStatCPUSeconds(t *testing.T) {
	// comm "a) b (c" holds spaces and ')'; utime 1234, stime 566 ticks.
	line := "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 566 0 0 20 0 3 0 12345 1000000 200 18446744073709551615\n"
	got, err := statCPUSeconds([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if want := 18.0; math.Abs(got-want) > 1e-9 {
		t.Errorf("statCPUSeconds = %v s, want %v (1800 ticks at 100 Hz)", got, want)
	}
	for _, bad := range []string{
		"4242 no paren S 1 2 3",
		"4242 (short) S 1 2 3 4 5",
		"4242 (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 12x4 566 0 0",
	} {
		if _, err := statCPUSeconds([]byte(bad)); err == nil {
			t.Errorf("statCPUSeconds(%q): no error", bad)
		}
	}
}

func TestProcessCPUSecondsOfSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("SKIPPED: no /proc on this system: ", err)
	}
	before, err := ProcessCPUSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the kernel accounts at least 30 ms more (3 ticks),
	// giving up after 5 s of wall time.
	deadline := time.Now().Add(5 * time.Second)
	x := 1.0
	after := before
	for after-before < 0.03 && time.Now().Before(deadline) {
		for i := 0; i < 1_000_000; i++ {
			x = math.Sqrt(x + float64(i))
		}
		if after, err = ProcessCPUSeconds(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if after <= 0 || after-before < 0.03 {
		t.Errorf("CPU seconds %v -> %v after burning CPU (x=%v), want > 0 and +0.03 s", before, after, x)
	}
}
