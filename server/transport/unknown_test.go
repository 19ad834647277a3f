package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"
)

// expectNoDial fails the test if anything connects to ln within d.
func expectNoDial(t *testing.T, ln net.Listener, d time.Duration, what string) {
	t.Helper()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(d))
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Fatalf("%s: the transport dialled the address an unknown server announced", what)
	}
}

// A caller with an id this server does not know and lower than its own is
// called back only at an address on the host it called from: a forged
// initial message must not make the server dial anywhere else. It is
// neither added to the peer table nor redialled.
func TestTCPUnknownLowerIDIsNotDialledBackElsewhere(t *testing.T) {
	target, err := net.Listen("tcp", "127.0.0.2:0") // what the forger points us at: another host
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	var logs syncBuffer
	tr, err := NewTCP(context.Background(), TCPConfig{MyID: 5, ListenAddr: "127.0.0.1:0", Logger: testLogger(t, &logs),
		Peers: map[int64]string{6: freeAddr(t)}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	c, err := net.Dial("tcp", tr.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write(rawInitial(ProtocolVersion, 2, target.Addr().String()))
	expectClosed(t, c, "unknown lower id")
	c.Close()
	waitLog(t, &logs, "not in the configuration")
	expectNoDial(t, target, 300*time.Millisecond, "unknown lower id")
	if p := tr.peer(2); p != nil {
		t.Fatalf("unknown server 2 was added to the peer table with address %q", p.addr)
	}
	tr.Send(2, []byte("x")) // nowhere to send it
	expectNoDial(t, target, 200*time.Millisecond, "send to unknown lower id")
}

// A server a reconfig removed keeps running and must still hear who leads,
// but servers that restarted since no longer list it; when its id is the
// lower one it cannot keep a connection, so, as upstream, it is called
// back at the address it announces, if that is on the host it called from.
// The call-back is answered once: when the connection ends, the server is
// forgotten and never redialled.
func TestTCPUnknownLowerIDOnItsOwnHostIsCalledBackOnce(t *testing.T) {
	caller, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	tr, err := NewTCP(context.Background(), TCPConfig{MyID: 5, ListenAddr: "127.0.0.1:0", Logger: testLogger(t, nil),
		Peers: map[int64]string{6: freeAddr(t)}, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	c, err := net.Dial("tcp", tr.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write(rawInitial(ProtocolVersion, 2, caller.Addr().String()))
	expectClosed(t, c, "unknown lower id")
	c.Close()
	caller.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	back, err := caller.Accept()
	if err != nil {
		t.Fatalf("server 5 did not call back the removed server on its own host: %v", err)
	}
	br := bufio.NewReader(back)
	if sid, _, err := readInitial(br); err != nil || sid != 5 {
		t.Fatalf("call-back initial message: sid=%d err=%v", sid, err)
	}
	back.Write(binary.BigEndian.AppendUint32(nil, 5))
	back.Write([]byte("hello"))
	select {
	case m := <-tr.Recv():
		if m.From != 2 || string(m.Payload) != "hello" {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("message on the call-back never arrived")
	}
	tr.Send(2, []byte("answer"))
	back.SetReadDeadline(time.Now().Add(5 * time.Second))
	if m, err := readFrame(br, 100); err != nil || string(m) != "answer" {
		t.Fatalf("answer to 2 on the call-back: %q %v", m, err)
	}
	back.Close()
	deadline := time.Now().Add(5 * time.Second)
	for tr.peer(2) != nil {
		if time.Now().After(deadline) {
			t.Fatal("server 2 stays in the peer table after its call-back ended")
		}
		time.Sleep(5 * time.Millisecond)
	}
	tr.Send(2, []byte("after"))
	expectNoDial(t, caller, 300*time.Millisecond, "send after the call-back ended")
}

// A caller with an unknown, higher id (a server a reconfig is about to
// add) keeps its connection and is answered on it, as upstream; but it is
// not recorded as a peer: once its connection ends, this server forgets it
// and never dials the address it announced.
func TestTCPUnknownHigherIDIsAnsweredButNotRecorded(t *testing.T) {
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	tr, err := NewTCP(context.Background(), TCPConfig{MyID: 2, ListenAddr: "127.0.0.1:0", Logger: testLogger(t, nil),
		Peers: map[int64]string{1: freeAddr(t)}, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	c, err := net.Dial("tcp", tr.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	frame := binary.BigEndian.AppendUint32(rawInitial(ProtocolVersion, 9, target.Addr().String()), 5)
	c.Write(append(frame, "hello"...))
	select {
	case m := <-tr.Recv():
		if m.From != 9 || string(m.Payload) != "hello" {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("message from unknown higher id never arrived")
	}
	tr.Send(9, []byte("answer"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if m, err := readFrame(bufio.NewReader(c), 100); err != nil || string(m) != "answer" {
		t.Fatalf("answer to 9 on its own connection: %q %v", m, err)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for tr.peer(9) != nil {
		if time.Now().After(deadline) {
			t.Fatal("server 9 stays in the peer table after its connection ended")
		}
		time.Sleep(5 * time.Millisecond)
	}
	tr.Send(9, []byte("after"))
	expectNoDial(t, target, 300*time.Millisecond, "send after the unknown caller left")
}
