package transport

import (
	"fmt"
	"reflect"
	"testing"
)

// drain returns what is queued on tr's Recv channel without blocking.
func drain(tr Transport) []string {
	var out []string
	for {
		select {
		case m := <-tr.Recv():
			out = append(out, fmt.Sprintf("%d>%d:%s", m.From, m.To, m.Payload))
		default:
			return out
		}
	}
}

func TestMemDelayDeliversOnAdvance(t *testing.T) {
	n := NewMemNetwork(1)
	a, b := n.Endpoint(1), n.Endpoint(2)
	n.Delay(1, 2, 3)
	a.Send(2, []byte("slow"))
	b.Send(1, []byte("fast"))
	if got := drain(a); !reflect.DeepEqual(got, []string{"2>1:fast"}) {
		t.Fatalf("undelayed link: %v", got)
	}
	n.Advance(2)
	if got := drain(b); len(got) != 0 {
		t.Fatalf("delivered before its delay: %v", got)
	}
	n.Advance(1)
	if got := drain(b); !reflect.DeepEqual(got, []string{"1>2:slow"}) {
		t.Fatalf("after the delay: %v", got)
	}
}

func TestMemReorderByDelay(t *testing.T) {
	n := NewMemNetwork(1)
	a, b := n.Endpoint(1), n.Endpoint(2)
	n.Delay(1, 2, 5)
	a.Send(2, []byte("first"))
	n.Delay(1, 2, 1)
	a.Send(2, []byte("second"))
	n.Advance(5)
	if got := drain(b); !reflect.DeepEqual(got, []string{"1>2:second", "1>2:first"}) {
		t.Fatalf("got %v, want the later message first", got)
	}
}

func TestMemDropCutHeal(t *testing.T) {
	n := NewMemNetwork(1)
	a, b, c := n.Endpoint(1), n.Endpoint(2), n.Endpoint(3)
	n.Drop(1, 2)
	a.Send(2, []byte("dropped"))
	b.Send(1, []byte("reverse ok"))
	a.Send(3, []byte("other ok"))
	if got := drain(b); len(got) != 0 {
		t.Fatalf("dropped link delivered %v", got)
	}
	if len(drain(a)) != 1 || len(drain(c)) != 1 {
		t.Fatal("Drop affected other links")
	}
	n.Cut(3)
	a.Send(3, []byte("x"))
	c.Send(2, []byte("y"))
	if len(drain(c)) != 0 || len(drain(b)) != 0 {
		t.Fatal("cut server exchanged messages")
	}
	// A message in flight when the cut starts is lost too.
	n.Heal()
	n.Delay(1, 3, 2)
	a.Send(3, []byte("in flight"))
	n.Cut(3)
	n.Advance(2)
	if got := drain(c); len(got) != 0 {
		t.Fatalf("in-flight message crossed a cut: %v", got)
	}
	n.Heal()
	a.Send(2, []byte("healed"))
	a.Send(3, []byte("healed"))
	n.Advance(2)
	if len(drain(b)) != 1 || len(drain(c)) != 1 {
		t.Fatal("Heal did not restore the links")
	}
}

func TestMemRestartLosesInFlight(t *testing.T) {
	n := NewMemNetwork(1)
	a := n.Endpoint(1)
	b := n.Endpoint(2)
	n.Delay(1, 2, 1)
	a.Send(2, []byte("to old"))
	b.Close()
	b2 := n.Endpoint(2)
	if b2 == b {
		t.Fatal("Endpoint returned the closed endpoint")
	}
	n.Advance(1)
	a.Send(2, []byte("to new"))
	n.Advance(1)
	if got := drain(b2); !reflect.DeepEqual(got, []string{"1>2:to new"}) {
		t.Fatalf("restarted endpoint got %v", got)
	}
	b.Send(1, []byte("ghost"))
	if got := drain(a); len(got) != 0 {
		t.Fatalf("closed endpoint could still send: %v", got)
	}
}

func TestMemLossIsDeterministic(t *testing.T) {
	run := func(seed int64) []string {
		n := NewMemNetwork(seed)
		a, b := n.Endpoint(1), n.Endpoint(2)
		n.SetLoss(0.5)
		for i := range 40 {
			a.Send(2, []byte(fmt.Sprint(i)))
		}
		return drain(b)
	}
	x, y := run(7), run(7)
	if !reflect.DeepEqual(x, y) {
		t.Fatalf("same seed, different deliveries:\n%v\n%v", x, y)
	}
	if len(x) == 0 || len(x) == 40 {
		t.Fatalf("loss 0.5 delivered %d of 40", len(x))
	}
	if reflect.DeepEqual(x, run(8)) {
		t.Fatal("different seeds, identical loss pattern")
	}
}
