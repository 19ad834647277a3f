package proto

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadFrame(t *testing.T) {
	var stream []byte
	stream = AppendRequest(stream, RequestHeader{Xid: 1, Type: OpGetData}, &GetDataRequest{Path: "/a", Watch: true})
	stream = AppendReply(stream, ReplyHeader{Xid: 2, Zxid: 3}, nil)
	stream = AppendFrame(stream, &Empty{})
	r := bufio.NewReader(bytes.NewReader(stream))

	buf := make([]byte, 0, 64)
	body, err := ReadFrame(r, buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	if &body[0] != &buf[:1][0] {
		t.Error("ReadFrame did not reuse a buffer with enough capacity")
	}
	d := NewDecoder(body)
	var h RequestHeader
	var req GetDataRequest
	h.Decode(d)
	req.Decode(d)
	if d.Err() != nil || h != (RequestHeader{Xid: 1, Type: OpGetData}) || req != (GetDataRequest{Path: "/a", Watch: true}) || d.Remaining() != 0 {
		t.Fatalf("first frame: %+v %+v %v rem %d", h, req, d.Err(), d.Remaining())
	}
	body, err = ReadFrame(r, body, 0)
	var rh ReplyHeader
	if err != nil || Unmarshal(body, &rh) != nil || rh != (ReplyHeader{Xid: 2, Zxid: 3}) {
		t.Fatalf("second frame: % x, %v", body, err)
	}
	body, err = ReadFrame(r, body, 0)
	if err != nil || len(body) != 0 {
		t.Fatalf("empty frame: % x, %v", body, err)
	}
	if _, err := ReadFrame(r, body, 0); err != io.EOF {
		t.Fatalf("at end: err = %v, want io.EOF", err)
	}
}

func TestReadFrameGrowsBuffer(t *testing.T) {
	payload := bytes.Repeat([]byte{9}, 5000)
	stream := AppendFrame(nil, &SetDataRequest{Path: "/p", Data: payload})
	body, err := ReadFrame(bytes.NewReader(stream), make([]byte, 0, 8), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got SetDataRequest
	if err := Unmarshal(body, &got); err != nil || !bytes.Equal(got.Data, payload) {
		t.Fatalf("big frame: %v", err)
	}
}

func TestReadFrameErrors(t *testing.T) {
	cases := []struct {
		name   string
		in     []byte
		max    int
		want   error
		inText []string
	}{
		{"negative length", []byte{0xff, 0xff, 0xff, 0xff}, 0, ErrFrameTooLarge, []string{"-1", "1048575"}},
		{"over limit", be{}.i32(1025), 1024, ErrFrameTooLarge, []string{"1025", "1024"}},
		{"over default limit", be{}.i32(DefaultMaxBuffer + 1), 0, ErrFrameTooLarge, []string{"1048576", "1048575"}},
		{"short length", []byte{0, 0}, 0, io.ErrUnexpectedEOF, nil},
		{"short body", append(be{}.i32(10), 1, 2, 3), 0, io.ErrUnexpectedEOF, nil},
		{"length only", be{}.i32(1), 0, io.ErrUnexpectedEOF, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tc.in), nil, tc.max)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for _, s := range tc.inText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %s", err, s)
				}
			}
		})
	}
	// A frame exactly at the limit is accepted.
	in := append(be{}.i32(4), 1, 2, 3, 4)
	if body, err := ReadFrame(bytes.NewReader(in), nil, 4); err != nil || len(body) != 4 {
		t.Fatalf("frame at limit: %v", err)
	}
}

func TestAppendReplyLayout(t *testing.T) {
	prefix := []byte("keep")
	out := AppendReply(prefix, ReplyHeader{Xid: 7, Zxid: 8, Err: ErrOK}, &ExistsResponse{Stat: testStat})
	if string(out[:4]) != "keep" {
		t.Fatal("AppendReply clobbered dst")
	}
	frame := out[4:]
	want := be{}.i32(16 + 68).i32(7).i64(8).i32(0)
	if !bytes.Equal(frame[:20], want) || len(frame) != 4+16+68 {
		t.Fatalf("frame % x", frame)
	}
	var st Stat
	if err := Unmarshal(frame[20:], &st); err != nil || st != testStat {
		t.Fatalf("stat %+v %v", st, err)
	}
}
