package transport

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/zkbench/zkbench/server/proto"
)

func quorumUsers(u string) (string, bool) {
	if u == "zk" {
		return "quorum-secret", true
	}
	return "", false
}

// authSecure is quorum SASL alone (no TLS): the server side requires it
// when require is set; the learner side logs in as zk with password
// (none when password is empty).
func authSecure(require bool, password string) *Secure {
	a := &QuorumAuth{Password: quorumUsers, ServerRequire: require}
	if password != "" {
		a.LearnerRequire, a.User, a.LearnerPassword = true, "zk", password
	}
	return &Secure{Auth: a}
}

// The magic number is upstream's -0xa0dbcafecafe1234L as Java evaluates
// it, and a packet is long, int, buffer back to back.
func TestQuorumAuthPacketFormat(t *testing.T) {
	var b bytes.Buffer
	if err := writeAuthPacket(&b, authSuccess, []byte("ab")); err != nil {
		t.Fatal(err)
	}
	want := []byte{0x5f, 0x24, 0x35, 0x01, 0x35, 0x01, 0xed, 0xcc, 0, 0, 0, 1, 0, 0, 0, 2, 'a', 'b'}
	if !bytes.Equal(b.Bytes(), want) {
		t.Fatalf("packet % x, want % x", b.Bytes(), want)
	}
	p, err := readAuthPacket(&b)
	if err != nil || p.Status != authSuccess || string(p.Token) != "ab" {
		t.Fatalf("read back %+v %v", p, err)
	}
	big := []byte{0x5f, 0x24, 0x35, 0x01, 0x35, 0x01, 0xed, 0xcc, 0, 0, 0, 0, 0x7f, 0, 0, 0}
	if _, err := readAuthPacket(bytes.NewReader(big)); err == nil {
		t.Fatal("a 2 GB token was accepted")
	}
}

// Quorum SASL on the quorum port: the right credentials pass, wrong or
// missing ones are refused when the server requires SASL, and are let
// through (as upstream) when it does not.
func TestQuorumAuthQuorumPort(t *testing.T) {
	for _, tc := range []struct {
		name         string
		listen, dial *Secure
		wantRecv     bool
	}{
		{"sasl", authSecure(true, ""), authSecure(true, "quorum-secret"), true},
		{"wrong password refused", authSecure(true, ""), authSecure(true, "nope"), false},
		{"no sasl refused", authSecure(true, ""), nil, false},
		{"no sasl let through when not required", authSecure(false, ""), nil, true},
		{"sasl with tls", withAuth(testSecure(t), authSecure(true, "")), withAuth(testSecure(t), authSecure(true, "quorum-secret")), false}, // different CAs
	} {
		t.Run(tc.name, func(t *testing.T) {
			ql := NewQuorumListener(listen(t), nil).Secured(tc.listen)
			defer ql.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				qc, err := DialQuorumSecure(ctx, ql.Addr().String(), time.Second, tc.dial)
				if err == nil {
					qc.SetDeadline(time.Now().Add(2 * time.Second))
					err = qc.Send(&proto.QuorumPacket{Type: 11, Zxid: 7})
					if err == nil {
						err = qc.Flush()
					}
					defer qc.Close()
					time.Sleep(200 * time.Millisecond)
				}
				done <- err
			}()
			qc, err := ql.Accept(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer qc.Close()
			qc.SetDeadline(time.Now().Add(2 * time.Second))
			p, err := qc.Recv()
			if got := err == nil && p.Zxid == 7; got != tc.wantRecv {
				t.Errorf("leader received %v (err %v), want %v", p, err, tc.wantRecv)
			}
			<-done
		})
	}
}

func withAuth(s *Secure, a *Secure) *Secure {
	s.Auth = a.Auth
	return s
}

// Quorum SASL on the election port, with TLS too: servers with the
// credentials talk; one without them, or with a wrong password, is not
// heard and hears nothing.
func TestQuorumAuthElection(t *testing.T) {
	tls := testSecure(t)
	both := func(password string) *Secure {
		return &Secure{Server: tls.Server, Client: tls.Client, Auth: authSecure(true, password).Auth}
	}
	l1, l2 := listen(t), listen(t)
	peers := map[int64]string{1: l1.Addr().String(), 2: l2.Addr().String()}
	t1 := newSecureTCP(t, 1, both("quorum-secret"), peers, l1)
	t2 := newSecureTCP(t, 2, both("quorum-secret"), peers, l2)
	t2.Send(1, []byte("hello"))
	if !gotMessage(t1, 5*time.Second) {
		t.Fatal("authenticated peers exchanged nothing")
	}
	t1.Send(2, []byte("back"))
	if !gotMessage(t2, 5*time.Second) {
		t.Fatal("authenticated peers exchanged nothing (lower id to higher)")
	}
	for _, tc := range []struct {
		name string
		sec  *Secure
	}{{"no credentials", &Secure{Server: tls.Server, Client: tls.Client}}, {"wrong password", both("nope")}} {
		t.Run(tc.name, func(t *testing.T) {
			for _, id := range []int64{0, 3} { // a lower and a higher id
				l := listen(t)
				p := map[int64]string{1: l1.Addr().String(), id: l.Addr().String()}
				t3 := newSecureTCP(t, id, tc.sec, p, l)
				for range 5 {
					t3.Send(1, []byte("let me in"))
					time.Sleep(20 * time.Millisecond)
				}
				if gotMessage(t1, 500*time.Millisecond) {
					t.Errorf("id %d: a server without the credentials was heard", id)
				}
				t3.Close()
			}
		})
	}
}
