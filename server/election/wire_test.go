package election

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestNotificationRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		n      Notification
		config []byte
	}{
		{Notification{State: Looking, Version: 2, Vote: Vote{Leader: 3, Zxid: 0x500000007, ElectionEpoch: 9, PeerEpoch: 5}}, nil},
		{Notification{State: Leading, Version: 2, Vote: Vote{Leader: 1, Zxid: -1, ElectionEpoch: 1, PeerEpoch: 0}}, []byte("server.1=127.0.0.1:2888:3888:participant\nversion=100000000")},
		{Notification{State: Observing, Version: 2, Vote: Vote{Leader: NoVote, Zxid: NoVote, ElectionEpoch: 0, PeerEpoch: NoVote}}, nil},
		{Notification{State: Following, Version: 3, Vote: Vote{Leader: 2}}, []byte{0}},
	} {
		b := EncodeNotification(tc.n, tc.config)
		if want := 44 + len(tc.config); len(b) != want {
			t.Errorf("encoded %d bytes, want %d", len(b), want)
		}
		got, cfg, err := DecodeNotification(b)
		if err != nil {
			t.Fatalf("decode %+v: %v", tc.n, err)
		}
		if got != tc.n || !bytes.Equal(cfg, tc.config) {
			t.Errorf("round trip: got %+v %q, want %+v %q", got, cfg, tc.n, tc.config)
		}
	}
}

// TestNotificationLayout pins the byte layout against upstream's buildMsg.
func TestNotificationLayout(t *testing.T) {
	b := EncodeNotification(Notification{State: Following, Version: 2,
		Vote: Vote{Leader: 0x0102, Zxid: 0x0304, ElectionEpoch: 0x0506, PeerEpoch: 0x0708}}, []byte("ab"))
	want := []byte{
		0, 0, 0, 1, // state FOLLOWING
		0, 0, 0, 0, 0, 0, 1, 2, // leader
		0, 0, 0, 0, 0, 0, 3, 4, // zxid
		0, 0, 0, 0, 0, 0, 5, 6, // election epoch
		0, 0, 0, 0, 0, 0, 7, 8, // peer epoch
		0, 0, 0, 2, // version
		0, 0, 0, 2, 'a', 'b', // config
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("layout\n got %x\nwant %x", b, want)
	}
}

func TestDecodeOldFormats(t *testing.T) {
	full := EncodeNotification(Notification{State: Leading, Version: 1,
		Vote: Vote{Leader: 4, Zxid: 0x300000002, ElectionEpoch: 6, PeerEpoch: 7}}, nil)
	if len(full) != 40 {
		t.Fatalf("version-1 notification is %d bytes, want 40", len(full))
	}
	n, cfg, err := DecodeNotification(full)
	if err != nil || cfg != nil {
		t.Fatalf("40 bytes: %v %q", err, cfg)
	}
	if n.Version != 0 || n.Vote.PeerEpoch != 7 || n.State != Leading {
		t.Errorf("40 bytes decoded as %+v (upstream reads version 0)", n)
	}
	n, _, err = DecodeNotification(full[:28])
	if err != nil {
		t.Fatalf("28 bytes: %v", err)
	}
	if n.Vote.PeerEpoch != 3 || n.Vote.Zxid != 0x300000002 || n.Vote.ElectionEpoch != 6 {
		t.Errorf("28 bytes decoded as %+v: peer epoch must come from the zxid", n)
	}
}

func TestDecodeMalformed(t *testing.T) {
	good := EncodeNotification(Notification{State: Looking, Version: 2, Vote: Vote{Leader: 1}}, []byte("cfg"))
	badState := bytes.Clone(good)
	binary.BigEndian.PutUint32(badState, 7)
	hugeConfig := bytes.Clone(good)
	binary.BigEndian.PutUint32(hugeConfig[40:], 1<<30)
	negConfig := bytes.Clone(good)
	binary.BigEndian.PutUint32(negConfig[40:], 0xffffffff)
	for name, b := range map[string][]byte{
		"empty":            nil,
		"27 bytes":         good[:27],
		"36 bytes":         good[:36],
		"no config length": good[:42],
		"short config":     good[:len(good)-1],
		"bad state":        badState,
		"huge config":      hugeConfig,
		"negative config":  negConfig,
	} {
		if _, _, err := DecodeNotification(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzDecodeNotification(f *testing.F) {
	f.Add(EncodeNotification(Notification{State: Looking, Version: 2, Vote: Vote{Leader: 1, Zxid: 2, ElectionEpoch: 3, PeerEpoch: 4}}, []byte("x")))
	f.Add(EncodeNotification(Notification{State: Leading, Version: 1, Vote: Vote{Leader: 1}}, nil))
	f.Add(make([]byte, 28))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, cfg, err := DecodeNotification(b)
		if err != nil {
			return
		}
		if n.Version < 2 {
			return // older layouts do not round-trip byte for byte
		}
		again, cfg2, err := DecodeNotification(EncodeNotification(n, cfg))
		if err != nil || again != n || !bytes.Equal(cfg, cfg2) {
			t.Fatalf("re-encode of %+v %q: %+v %q %v", n, cfg, again, cfg2, err)
		}
	})
}
