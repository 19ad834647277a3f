package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// rawInitial builds an initial message by hand (upstream's layout).
func rawInitial(version, sid int64, addr string) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(version))
	b = binary.BigEndian.AppendUint64(b, uint64(sid))
	b = binary.BigEndian.AppendUint32(b, uint32(len(addr)))
	return append(b, addr...)
}

// expectClosed reads from c until the server closes it.
func expectClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: connection was not closed by the server", what)
		}
	}
}

func waitLog(t *testing.T, buf *syncBuffer, substr string) {
	t.Helper()
	for range 500 {
		if strings.Contains(buf.String(), substr) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("log never mentioned %q; log:\n%s", substr, buf.String())
}

func TestTCPGarbageIsDroppedAndLogged(t *testing.T) {
	var logs syncBuffer
	nw := newTCPNet(t, []int64{1, 2, 3}, testLogger(t, &logs))
	a, b := nw.open(t, 1), nw.open(t, 2)
	cb := collect(b)
	target := nw.addrs[2]
	hugeFrame := append(rawInitial(ProtocolVersion, 3, "127.0.0.1:1"), 0x7f, 0xff, 0xff, 0xff)
	for _, tc := range []struct {
		name, log string
		bytes     []byte
	}{
		// Upstream reads a non-negative first long as a bare server id.
		{"http request", "unknown server", []byte("GET / HTTP/1.0\r\n\r\n")},
		{"binary noise", "unknown protocol version", []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8}},
		{"huge address length", "unreasonable address length", rawInitial(ProtocolVersion, 3, "")[:20]},
		{"bad address", "badly formed address", rawInitial(ProtocolVersion, 3, "no-port-here")},
		{"huge frame", "frame length 2147483647", hugeFrame},
		{"negative frame", "frame length -1", append(rawInitial(ProtocolVersion, 3, "127.0.0.1:1"), 0xff, 0xff, 0xff, 0xff)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.bytes
			if tc.name == "huge address length" {
				b = binary.BigEndian.AppendUint32(b[:16], 1<<30)
			}
			c, err := net.Dial("tcp", target)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(b); err != nil {
				t.Fatal(err)
			}
			expectClosed(t, c, tc.name)
			waitLog(t, &logs, tc.log)
		})
	}
	// The transport survived all of it.
	deliver(t, nw, a, 1, 2, cb, []byte("still working"))
}

// A server missing from the configuration (one a reconfig is about to add)
// that announces its address is answered, on the lower-id side by calling
// it back, and AddPeers lets a server talk to new members first.
func TestTCPServerNotInConfigurationIsAnswered(t *testing.T) {
	nw := newTCPNet(t, []int64{1, 2, 9}, nil)
	known := map[int64]string{1: nw.addrs[1], 2: nw.addrs[2]} // 1 and 2 do not know 9
	open := func(id int64, peers map[int64]string) *TCP {
		tr, err := NewTCP(context.Background(), TCPConfig{MyID: id, Listener: nw.lns[id], Peers: peers,
			MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		return tr
	}
	t1, t2, t9 := open(1, known), open(2, known), open(9, nw.addrs)
	c1, c2, c9 := collect(t1), collect(t2), collect(t9)
	deliver(t, nw, t9, 9, 2, c2, []byte("hello from 9"))
	deliver(t, nw, t2, 2, 9, c9, []byte("2 answers 9"))
	t1.AddPeers(map[int64]string{9: nw.addrs[9]})
	deliver(t, nw, t1, 1, 9, c9, []byte("1 talks first"))
	deliver(t, nw, t9, 9, 1, c1, []byte("9 answers 1"))
}

// TestTCPConnectionRules plays a fake peer on both sides of server 2:
// a lower id is dropped and called back, a higher id is kept.
func TestTCPConnectionRules(t *testing.T) {
	fake1, err := net.Listen("tcp", "127.0.0.1:0") // server 1 is us, by hand
	if err != nil {
		t.Fatal(err)
	}
	defer fake1.Close()
	fake3, err := net.Listen("tcp", "127.0.0.1:0") // and so is server 3
	if err != nil {
		t.Fatal(err)
	}
	defer fake3.Close()
	addr2 := freeAddr(t)
	tr, err := NewTCP(context.Background(), TCPConfig{MyID: 2, ListenAddr: addr2, Logger: testLogger(t, nil),
		Peers: map[int64]string{1: fake1.Addr().String(), 2: addr2, 3: fake3.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()

	// Lower id 1 connects: server 2 must drop it and connect back.
	c, err := net.Dial("tcp", addr2)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(rawInitial(ProtocolVersion, 1, fake1.Addr().String()))
	expectClosed(t, c, "connection from lower id")
	c.Close()
	fake1.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	back, err := fake1.Accept()
	if err != nil {
		t.Fatalf("server 2 did not connect back to the lower id: %v", err)
	}
	defer back.Close()
	br := bufio.NewReader(back)
	sid, addr, err := readInitial(br)
	if err != nil || sid != 2 || addr != tr.Addr().String() {
		t.Fatalf("call-back initial message: sid=%d addr=%q err=%v, want 2 %q", sid, addr, err, tr.Addr())
	}
	// That connection carries server 2's messages to 1.
	tr.Send(1, []byte("to one"))
	back.SetReadDeadline(time.Now().Add(5 * time.Second))
	if m, err := readFrame(br, 100); err != nil || string(m) != "to one" {
		t.Fatalf("frame to 1: %q %v", m, err)
	}

	// Higher id 3 connects: server 2 keeps it and reads its frames.
	c3, err := net.Dial("tcp", addr2)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	frame := binary.BigEndian.AppendUint32(rawInitial(ProtocolVersion, 3, fake3.Addr().String()), 5)
	c3.Write(append(frame, "hello"...))
	select {
	case m := <-tr.Recv():
		if m.From != 3 || m.To != 2 || string(m.Payload) != "hello" {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("message from higher id never arrived")
	}
	// And answers on the same connection, without dialing 3.
	tr.Send(3, []byte("hi three"))
	c3br := bufio.NewReader(c3)
	c3.SetReadDeadline(time.Now().Add(5 * time.Second))
	if m, err := readFrame(c3br, 100); err != nil || string(m) != "hi three" {
		t.Fatalf("reply to 3: %q %v", m, err)
	}
	fake3.(*net.TCPListener).SetDeadline(time.Now().Add(50 * time.Millisecond))
	if extra, err := fake3.Accept(); err == nil {
		extra.Close()
		t.Fatal("server 2 dialed higher id 3 although 3's connection is up")
	}
}

// TestTCPLowerIDAsksAndHangsUp: when the lower id has something to send it
// connects, sends its initial message and closes, waiting to be called back.
func TestTCPLowerIDAsksAndHangsUp(t *testing.T) {
	fake3, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer fake3.Close()
	tr, err := NewTCP(context.Background(), TCPConfig{MyID: 1, ListenAddr: "127.0.0.1:0", Logger: testLogger(t, nil),
		Peers: map[int64]string{3: fake3.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tr.Send(3, []byte("x"))
	fake3.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := fake3.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	sid, addr, err := readInitial(br)
	if err != nil || sid != 1 || addr != tr.Addr().String() {
		t.Fatalf("initial message: %d %q %v", sid, addr, err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("lower id kept the connection open (read %d bytes, err %v)", n, err)
	}
	// Not called back: it asks again, but not before MaxBackoff (1 s by
	// default), so that a slow call-back is not torn down by a new ask.
	tr.Send(3, []byte("y"))
	fake3.(*net.TCPListener).SetDeadline(time.Now().Add(300 * time.Millisecond))
	if c2, err := fake3.Accept(); err == nil {
		c2.Close()
		t.Fatal("asked again within 300 ms")
	}
	fake3.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c2, err := fake3.Accept()
	if err != nil {
		t.Fatalf("never asked again: %v", err)
	}
	c2.Close()
}

func TestTCPPeerNotUpYet(t *testing.T) {
	nw := newTCPNet(t, []int64{1, 2}, testLogger(t, nil))
	a := nw.open(t, 1)
	ca := collect(a)
	a.Send(2, []byte("into the void"))
	time.Sleep(50 * time.Millisecond) // a few failed dials with backoff
	b := nw.open(t, 2)
	cb := collect(b)
	deliver(t, nw, a, 1, 2, cb, []byte("now"))
	deliver(t, nw, b, 2, 1, ca, []byte("and back"))
}

func TestReadInitialAcceptsOldAndV2(t *testing.T) {
	sid, addr, err := readInitial(strings.NewReader(string(binary.BigEndian.AppendUint64(nil, 7))))
	if err != nil || sid != 7 || addr != "" {
		t.Fatalf("pre-3.5 initial message: %d %q %v", sid, addr, err)
	}
	sid, addr, err = readInitial(strings.NewReader(string(rawInitial(-65535, 4, "a:1|b:2"))))
	if err != nil || sid != 4 || addr != "a:1|b:2" {
		t.Fatalf("v2 initial message: %d %q %v", sid, addr, err)
	}
	for name, b := range map[string][]byte{
		"bad version": rawInitial(-5, 4, "a:1"),
		"bad port":    rawInitial(ProtocolVersion, 4, "a:99999"),
		"empty addr":  rawInitial(ProtocolVersion, 4, ""),
		"truncated":   rawInitial(ProtocolVersion, 4, "a:1")[:22],
	} {
		if _, _, err := readInitial(strings.NewReader(string(b))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// BenchmarkTCPRoundTrip bounces one election-sized message (48 bytes)
// between two transports on loopback: a notification round trip.
func BenchmarkTCPRoundTrip(b *testing.B) {
	ln1, _ := net.Listen("tcp", "127.0.0.1:0")
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	peers := map[int64]string{1: ln1.Addr().String(), 2: ln2.Addr().String()}
	t1, err := NewTCP(context.Background(), TCPConfig{MyID: 1, Listener: ln1, Peers: peers})
	if err != nil {
		b.Fatal(err)
	}
	defer t1.Close()
	t2, err := NewTCP(context.Background(), TCPConfig{MyID: 2, Listener: ln2, Peers: peers})
	if err != nil {
		b.Fatal(err)
	}
	defer t2.Close()
	go func() {
		for m := range t2.Recv() {
			t2.Send(1, m.Payload)
		}
	}()
	msg := make([]byte, 48)
	// Warm up: the first message sets up the connection.
	for {
		t1.Send(2, msg)
		select {
		case <-t1.Recv():
		case <-time.After(100 * time.Millisecond):
			continue
		}
		break
	}
	b.ResetTimer()
	for range b.N {
		t1.Send(2, msg)
		<-t1.Recv()
	}
}
