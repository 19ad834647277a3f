package netproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer echoes every line it receives.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func startProxy(t *testing.T) (*Proxy, *bufio.Reader, net.Conn) {
	t.Helper()
	p, err := Listen("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return p, bufio.NewReader(c), c
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, msg string, timeout time.Duration) (string, error) {
	t.Helper()
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(timeout))
	line, err := r.ReadString('\n')
	c.SetReadDeadline(time.Time{})
	return line, err
}

func TestForwards(t *testing.T) {
	_, r, c := startProxy(t)
	for _, m := range []string{"a", "bb", "ccc"} {
		got, err := roundTrip(t, c, r, m, 5*time.Second)
		if err != nil || got != m+"\n" {
			t.Fatalf("got %q, %v", got, err)
		}
	}
}

func TestHoldKeepsBytesAndReleasesInOrder(t *testing.T) {
	for _, d := range []Direction{Forward, Backward} {
		t.Run(d.String(), func(t *testing.T) {
			p, r, c := startProxy(t)
			if got, err := roundTrip(t, c, r, "warm", 5*time.Second); err != nil || got != "warm\n" {
				t.Fatalf("warm-up: %q %v", got, err)
			}
			p.SetHold(d, true)
			if got, err := roundTrip(t, c, r, "one", 200*time.Millisecond); err == nil {
				t.Fatalf("held link delivered %q", got)
			}
			io.WriteString(c, "two\n")
			p.SetHold(d, false)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for _, want := range []string{"one\n", "two\n"} {
				got, err := r.ReadString('\n')
				if err != nil || got != want {
					t.Fatalf("after release got %q %v, want %q", got, err, want)
				}
			}
		})
	}
}

func TestHoldBeforeConnect(t *testing.T) {
	p, err := Listen("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetHold(Forward, true)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if got, err := roundTrip(t, c, r, "x", 200*time.Millisecond); err == nil {
		t.Fatalf("partitioned connect delivered %q", got)
	}
	p.SetHold(Forward, false)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "x\n" {
		t.Fatalf("after heal got %q %v", got, err)
	}
}

func TestDelay(t *testing.T) {
	p, r, c := startProxy(t)
	p.SetDelay(Forward, 150*time.Millisecond)
	start := time.Now()
	if got, err := roundTrip(t, c, r, "slow", 5*time.Second); err != nil || got != "slow\n" {
		t.Fatalf("got %q %v", got, err)
	}
	// A lower bound only: the delay is a floor, never a promise of speed.
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("round trip took %v, want >= 150ms", el)
	}
	if h, d := p.State(Forward); h || d != 150*time.Millisecond {
		t.Fatalf("state %v %v", h, d)
	}
	p.Reset()
	if h, d := p.State(Forward); h || d != 0 {
		t.Fatalf("after reset %v %v", h, d)
	}
}

func TestCutAndClose(t *testing.T) {
	p, r, c := startProxy(t)
	if _, err := roundTrip(t, c, r, "x", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("cut connection still open")
	}
	p.SetHold(Backward, true)
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	io.WriteString(c2, "y\n")
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung with a held connection")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("closed proxy still accepts")
	}
}

func TestRewriter(t *testing.T) {
	p, err := Listen("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetRewriter(func(r io.Reader) ([]byte, error) {
		b := make([]byte, 6)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return []byte("HELLO-" + string(b[:5]) + "\n"), nil
	})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "hello\nrest\n")
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []string{"HELLO-hello\n", "rest\n"} {
		got, err := r.ReadString('\n')
		if err != nil || got != want {
			t.Fatalf("got %q %v, want %q", got, err, want)
		}
	}
}

// A connection accepted while the target does not listen yet (a Java
// leader binds its quorum port only once elected) is not closed at once:
// without a proxy the connecting learner would see the refusal and retry
// its connect, so the proxy retries its dial for it, and the bytes sent
// meanwhile reach the target once it listens.
func TestTargetListensLate(t *testing.T) {
	hold, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := hold.Addr().String()
	hold.Close() // nothing listens there now: dials are refused
	p, err := Listen("127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "hello\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the proxy's first dials are refused
	ln, err := net.Listen("tcp", target)
	if err != nil {
		t.Fatalf("listening on the target's port again: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		io.Copy(s, s)
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != "hello\n" {
		t.Fatalf("read %q, %v; want the line echoed once the target listens", got, err)
	}
}
