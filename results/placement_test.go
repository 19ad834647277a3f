package results

import (
	"encoding/json"
	"strings"
	"testing"
)

// A mixed run's result says which server runs which implementation, in
// its JSON and in the label reports and graphs give the ensemble.
func TestPlacementInJSONAndLabel(t *testing.T) {
	e := Ensemble{Implementation: "mixed", Size: 5, Placement: map[int64]string{1: "go", 2: "go", 3: "go", 4: "java", 5: "java"}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"placement":{"1":"go","2":"go","3":"go","4":"java","5":"java"}`) {
		t.Fatalf("JSON %s does not list the placement by server id", b)
	}
	var back Ensemble
	if err := json.Unmarshal(b, &back); err != nil || back.Placement[4] != "java" || len(back.Placement) != 5 {
		t.Fatalf("read back %+v (%v)", back, err)
	}
	if got, want := e.Label(), "mixed (go 1,2,3; java 4,5)"; got != want {
		t.Fatalf("label %q, want %q", got, want)
	}
	for _, e := range []Ensemble{{Implementation: "go", Size: 3}, {Implementation: "java", Size: 5}} {
		if got := e.Label(); got != e.Implementation {
			t.Errorf("label of a %s ensemble without a placement is %q, want the implementation", e.Implementation, got)
		}
		if b, _ := json.Marshal(e); strings.Contains(string(b), "placement") {
			t.Errorf("a %s ensemble's JSON has a placement: %s", e.Implementation, b)
		}
	}
}
