package proto

import (
	"reflect"
	"testing"
)

// fuzzRoundTrip decodes body as the record new returns; when that succeeds,
// re-encoding it must give bytes that decode to the same value.
func fuzzRoundTrip(t *testing.T, rec Record, body []byte) {
	d := NewDecoder(body)
	rec.Decode(d)
	if d.Err() != nil {
		return
	}
	again := Marshal(rec)
	rec2 := newLike(rec)
	if err := Unmarshal(again, rec2); err != nil {
		t.Fatalf("%T: re-encoded bytes do not decode: %v\nvalue %#v\nbytes % x", rec, err, rec, again)
	}
	if !reflect.DeepEqual(rec, rec2) {
		t.Fatalf("%T: re-encode changed the value:\nfirst  %#v\nsecond %#v", rec, rec, rec2)
	}
}

func addSeeds(f *testing.F) {
	for _, tc := range recordCases() {
		b := Marshal(tc.rec)
		for op := OpCode(-11); op <= 107; op++ {
			if r, ok := NewRequest(op); ok && reflect.TypeOf(r) == reflect.TypeOf(tc.rec) {
				f.Add(int32(op), b)
			}
			if r, ok := NewResponse(op); ok && reflect.TypeOf(r) == reflect.TypeOf(tc.rec) {
				f.Add(int32(op), b)
			}
		}
	}
}

// FuzzDecodeRequest decodes arbitrary bodies as the request of an arbitrary
// opcode. It must never panic, and what decodes must re-encode faithfully.
func FuzzDecodeRequest(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, op int32, body []byte) {
		rec, ok := NewRequest(OpCode(op))
		if !ok {
			return
		}
		fuzzRoundTrip(t, rec, body)
	})
}

// FuzzDecodeResponse does the same for reply bodies.
func FuzzDecodeResponse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, op int32, body []byte) {
		rec, ok := NewResponse(OpCode(op))
		if !ok {
			return
		}
		fuzzRoundTrip(t, rec, body)
	})
}

// FuzzDecodeConnect covers the handshake records, which have an optional
// trailing byte and are not reachable through NewRequest.
func FuzzDecodeConnect(f *testing.F) {
	f.Add(Marshal(&ConnectRequest{TimeOut: 1, Passwd: []byte{1}, ReadOnly: true}))
	f.Add(Marshal(&ConnectResponse{TimeOut: 1, Passwd: []byte{1}}))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzRoundTrip(t, &ConnectRequest{}, body)
		fuzzRoundTrip(t, &ConnectResponse{}, body)
		req, has, err := DecodeConnectRequest(body)
		if err == nil && !has && req.ReadOnly {
			t.Fatal("ReadOnly set without a readOnly byte")
		}
	})
}
