package peer

import (
	"testing"
	"time"
)

// TestLogFailurePause: the pause after a log failure doubles with each
// failure in a row, up to maxLogPause, and starts again from minLogPause
// after a long healthy stretch.
func TestLogFailurePause(t *testing.T) {
	var lf logFailures
	now := time.Unix(1000, 0)
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 16 * time.Second}
	for i, w := range want {
		if got := lf.next(now); got != w {
			t.Fatalf("failure %d in a row: pause %v, want %v", i+1, got, w)
		}
		now = now.Add(lf.pause + time.Second) // it rejoined and failed again
	}
	if got := lf.next(now.Add(2*maxLogPause + time.Second)); got != minLogPause {
		t.Fatalf("pause after a long healthy stretch: %v, want %v", got, minLogPause)
	}
}
