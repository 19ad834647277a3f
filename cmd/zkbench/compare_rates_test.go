package main

import (
	"strings"
	"testing"
	"time"
)

func TestCompareRatesFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"compare", "--rates", "fast"}, `--rates: rate "fast"`},
		{[]string{"compare", "--rates", "150%"}, "at most 100"},
		{[]string{"compare", "--impl", "go", "--bound", "--rates", "50%"}, "Java is not measured"},
	} {
		_, _, err := zkbench(t, append(tc.args, "--out", dir)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("zkbench %s: err = %v, want one containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	// The repeated comparison warms up until steady unless --warmup is given.
	var o compareOptions
	o.rep.rates = "50%,5000"
	o.rep.reps, o.rep.sizes = 1, "1"
	o.load = loadOptions{clients: 60, outstanding: 1, valueSize: 1024, keys: 1000, duration: 5 * time.Second, seed: 1, warmupMax: 20 * time.Second}
	o.ens.impl = "go,java"
	c, err := repeatedConfig(o, func(f string) bool { return f == "rates" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.WarmupMax != 20*time.Second || c.Warmup != 0 || len(c.Rates) != 2 || c.Rates[1].PerSecond != 5000 {
		t.Errorf("config warm-up %v max %v, rates %+v; want automatic up to 20s and 50%%, 5000", c.Warmup, c.WarmupMax, c.Rates)
	}
	o.load.warmup = warmupFlag{d: 2 * time.Second}
	c, err = repeatedConfig(o, func(f string) bool { return f == "rates" || f == "warmup" }, nil)
	if err != nil || c.WarmupMax != 0 || c.Warmup != 2*time.Second {
		t.Errorf("--warmup 2s: warm-up %v max %v (%v), want a fixed 2s", c.Warmup, c.WarmupMax, err)
	}
}
