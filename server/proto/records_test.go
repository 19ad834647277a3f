package proto

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"
)

var testStat = Stat{
	Czxid: 0x100000001, Mzxid: 0x100000002, Ctime: 1700000000000, Mtime: 1700000000001,
	Version: 3, Cversion: 4, Aversion: 5, EphemeralOwner: 0x7f00000000000001,
	DataLength: 1024, NumChildren: 2, Pzxid: 0x100000003,
}

var testACL = []ACL{
	{Perms: PermAll, ID: ID{Scheme: "world", ID: "anyone"}},
	{Perms: PermRead | PermWrite, ID: ID{Scheme: "digest", ID: "bob:x/y="}},
}

// recordCases lists populated values of every record, with nil and empty
// vectors and buffers where a record has them. Names are "Type" or
// "Type/variant"; TestEveryRecordCovered checks the table against
// records.go.
func recordCases() []struct {
	name string
	rec  Record
} {
	return []struct {
		name string
		rec  Record
	}{
		{"ID", &ID{Scheme: "digest", ID: "user:hash"}},
		{"ID/empty", &ID{}},
		{"ACL", &ACL{Perms: PermAdmin, ID: ID{Scheme: "ip", ID: "10.0.0.1"}}},
		{"Stat", &Stat{Czxid: 1, Mzxid: 2, Ctime: 3, Mtime: 4, Version: 5, Cversion: 6, Aversion: 7, EphemeralOwner: 8, DataLength: 9, NumChildren: 10, Pzxid: 11}},
		{"Stat/negative", &Stat{Czxid: -1, Version: -1, Pzxid: -1 << 62}},
		{"StatPersisted", &StatPersisted{Czxid: 1, Mzxid: 2, Ctime: 3, Mtime: 4, Version: 5, Cversion: 6, Aversion: 7, EphemeralOwner: 8, Pzxid: 9}},
		{"ClientInfo", &ClientInfo{AuthScheme: "ip", User: "127.0.0.1"}},
		{"ConnectRequest", &ConnectRequest{ProtocolVersion: 0, LastZxidSeen: 0x200000005, TimeOut: 30000, SessionID: 0x1234, Passwd: bytes.Repeat([]byte{7}, 16), ReadOnly: true}},
		{"ConnectRequest/nilPasswd", &ConnectRequest{TimeOut: 4000}},
		{"ConnectRequest/emptyPasswd", &ConnectRequest{TimeOut: 4000, Passwd: []byte{}}},
		{"ConnectResponse", &ConnectResponse{TimeOut: 4000, SessionID: 0x5678, Passwd: make([]byte, 16), ReadOnly: true}},
		{"ConnectResponse/nilPasswd", &ConnectResponse{TimeOut: 0}},
		{"SetWatches", &SetWatches{RelativeZxid: 9, DataWatches: []string{"/a", "/b"}, ExistWatches: []string{}, ChildWatches: nil}},
		{"SetWatches2", &SetWatches2{RelativeZxid: 9, DataWatches: []string{"/a"}, ExistWatches: nil, ChildWatches: []string{""}, PersistentWatches: []string{}, PersistentRecursiveWatches: []string{"/r", "/s"}}},
		{"RequestHeader", &RequestHeader{Xid: 42, Type: OpGetData}},
		{"MultiHeader", &MultiHeader{Type: OpCreate, Done: false, Err: -1}},
		{"MultiHeader/done", &MultiHeader{Type: OpError, Done: true, Err: -1}},
		{"AuthPacket", &AuthPacket{Type: 0, Scheme: "digest", Auth: []byte("bob:secret")}},
		{"AuthPacket/nil", &AuthPacket{Scheme: "ip"}},
		{"ReplyHeader", &ReplyHeader{Xid: -2, Zxid: 0x300000000, Err: ErrNoNode}},
		{"GetDataRequest", &GetDataRequest{Path: "/bench/node-1", Watch: true}},
		{"SetDataRequest", &SetDataRequest{Path: "/x", Data: []byte("hello"), Version: -1}},
		{"SetDataRequest/emptyData", &SetDataRequest{Path: "/x", Data: []byte{}, Version: 3}},
		{"SetDataRequest/nilData", &SetDataRequest{Path: "/x", Version: 3}},
		{"ReconfigRequest", &ReconfigRequest{JoiningServers: "server.4=h:1:2;3", LeavingServers: "2", NewMembers: nil, CurConfigID: -1}},
		{"SetDataResponse", &SetDataResponse{Stat: testStat}},
		{"GetSASLRequest", &GetSASLRequest{Token: []byte{1, 2, 3}}},
		{"SetSASLRequest", &SetSASLRequest{Token: nil}},
		{"SetSASLResponse", &SetSASLResponse{Token: []byte{}}},
		{"CreateRequest", &CreateRequest{Path: "/c", Data: []byte("d"), ACL: testACL, Flags: ModeEphemeralSequential}},
		{"CreateRequest/nilACL", &CreateRequest{Path: "/c", Data: nil, ACL: nil, Flags: ModePersistent}},
		{"CreateRequest/emptyACL", &CreateRequest{Path: "/c", Data: []byte{}, ACL: []ACL{}, Flags: ModeContainer}},
		{"CreateTTLRequest", &CreateTTLRequest{Path: "/t", Data: []byte("d"), ACL: OpenACLUnsafe, Flags: ModePersistentWithTTL, TTL: 60000}},
		{"DeleteRequest", &DeleteRequest{Path: "/d", Version: 7}},
		{"GetChildrenRequest", &GetChildrenRequest{Path: "/", Watch: true}},
		{"GetAllChildrenNumberRequest", &GetAllChildrenNumberRequest{Path: "/p"}},
		{"GetChildren2Request", &GetChildren2Request{Path: "/p", Watch: false}},
		{"CheckVersionRequest", &CheckVersionRequest{Path: "/v", Version: 12}},
		{"SyncRequest", &SyncRequest{Path: "/s"}},
		{"SyncResponse", &SyncResponse{Path: "/s"}},
		{"GetACLRequest", &GetACLRequest{Path: "/a"}},
		{"SetACLRequest", &SetACLRequest{Path: "/a", ACL: testACL, Version: 2}},
		{"SetACLRequest/nilACL", &SetACLRequest{Path: "/a", Version: -1}},
		{"SetACLResponse", &SetACLResponse{Stat: testStat}},
		{"AddWatchRequest", &AddWatchRequest{Path: "/w", Mode: AddWatchPersistentRecursive}},
		{"WatcherEvent", &WatcherEvent{Type: EventNodeDataChanged, State: StateSyncConnected, Path: "/w"}},
		{"ErrorResponse", &ErrorResponse{Err: ErrBadVersion}},
		{"CreateResponse", &CreateResponse{Path: "/c0000000001"}},
		{"Create2Response", &Create2Response{Path: "/c", Stat: testStat}},
		{"ExistsRequest", &ExistsRequest{Path: "/e", Watch: true}},
		{"ExistsResponse", &ExistsResponse{Stat: testStat}},
		{"GetDataResponse", &GetDataResponse{Data: bytes.Repeat([]byte("z"), 1024), Stat: testStat}},
		{"GetDataResponse/nilData", &GetDataResponse{Stat: testStat}},
		{"GetDataResponse/emptyData", &GetDataResponse{Data: []byte{}, Stat: testStat}},
		{"GetChildrenResponse", &GetChildrenResponse{Children: []string{"a", "b", "c"}}},
		{"GetChildrenResponse/empty", &GetChildrenResponse{Children: []string{}}},
		{"GetChildrenResponse/nil", &GetChildrenResponse{}},
		{"GetAllChildrenNumberResponse", &GetAllChildrenNumberResponse{TotalNumber: 77}},
		{"GetChildren2Response", &GetChildren2Response{Children: []string{"x"}, Stat: testStat}},
		{"GetACLResponse", &GetACLResponse{ACL: testACL, Stat: testStat}},
		{"GetACLResponse/emptyACL", &GetACLResponse{ACL: []ACL{}, Stat: testStat}},
		{"CheckWatchesRequest", &CheckWatchesRequest{Path: "/w", Type: WatcherData}},
		{"RemoveWatchesRequest", &RemoveWatchesRequest{Path: "/w", Type: WatcherAny}},
		{"GetEphemeralsRequest", &GetEphemeralsRequest{PrefixPath: "/e"}},
		{"GetEphemeralsResponse", &GetEphemeralsResponse{Ephemerals: []string{"/e/1", "/e/2"}}},
		{"GetEphemeralsResponse/nil", &GetEphemeralsResponse{}},
		{"WhoAmIResponse", &WhoAmIResponse{ClientInfo: []ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}, {AuthScheme: "digest", User: "bob"}}}},
		{"WhoAmIResponse/nil", &WhoAmIResponse{}},
		{"WhoAmIResponse/empty", &WhoAmIResponse{ClientInfo: []ClientInfo{}}},
		{"LearnerInfo", &LearnerInfo{ServerID: 3, ProtocolVersion: 0x10000, ConfigVersion: 0x100000000}},
		{"QuorumPacket", &QuorumPacket{Type: 2, Zxid: 0x500000001, Data: []byte("txn"), AuthInfo: []ID{{Scheme: "ip", ID: "1.2.3.4"}}}},
		{"QuorumPacket/nil", &QuorumPacket{Type: 5, Zxid: 1}},
		{"QuorumPacket/empty", &QuorumPacket{Type: 5, Zxid: 1, Data: []byte{}, AuthInfo: []ID{}}},
		{"QuorumAuthPacket", &QuorumAuthPacket{Magic: 0xB3415C, Status: 1, Token: []byte("tok")}},
		{"FileHeader", &FileHeader{Magic: 0x5a4b4c47, Version: 2, DBID: -1}},
		{"TxnDigest", &TxnDigest{Version: 2, TreeDigest: 0x0123456789abcdef}},
		{"TxnHeader", &TxnHeader{ClientID: 0x1234, Cxid: 9, Zxid: 0x100000009, Time: 1700000000000, Type: OpCreate}},
		{"CreateTxn", &CreateTxn{Path: "/n", Data: []byte("v"), ACL: testACL, Ephemeral: true, ParentCVersion: 4}},
		{"CreateTTLTxn", &CreateTTLTxn{Path: "/n", Data: []byte("v"), ACL: testACL, ParentCVersion: 4, TTL: 1000}},
		{"CreateContainerTxn", &CreateContainerTxn{Path: "/n", Data: nil, ACL: []ACL{}, ParentCVersion: 4}},
		{"DeleteTxn", &DeleteTxn{Path: "/n"}},
		{"SetDataTxn", &SetDataTxn{Path: "/n", Data: []byte("v2"), Version: 8}},
		{"CheckVersionTxn", &CheckVersionTxn{Path: "/n", Version: 8}},
		{"SetACLTxn", &SetACLTxn{Path: "/n", ACL: testACL, Version: 1}},
		{"CreateSessionTxn", &CreateSessionTxn{TimeOut: 30000}},
		{"CloseSessionTxn", &CloseSessionTxn{Paths2Delete: []string{"/e1", "/e2"}}},
		{"CloseSessionTxn/nil", &CloseSessionTxn{}},
		{"ErrorTxn", &ErrorTxn{Err: ErrNodeExists}},
		{"Txn", &Txn{Type: OpSetData, Data: []byte{1, 2}}},
		{"MultiTxn", &MultiTxn{Txns: []Txn{{Type: OpCreate, Data: []byte("a")}, {Type: OpError, Data: nil}}}},
		{"MultiTxn/nil", &MultiTxn{}},
		{"MultiTxn/empty", &MultiTxn{Txns: []Txn{}}},
		{"Empty", &Empty{}},
		{"MultiRequest", &MultiRequest{Ops: []MultiOp{
			NewMultiOp(OpCreate, &CreateRequest{Path: "/m", Data: []byte("x"), ACL: OpenACLUnsafe, Flags: ModePersistent}),
			NewMultiOp(OpCreate2, &CreateRequest{Path: "/m2", ACL: []ACL{}}),
			NewMultiOp(OpCreateContainer, &CreateRequest{Path: "/m3", ACL: OpenACLUnsafe, Flags: ModeContainer}),
			NewMultiOp(OpCreateTTL, &CreateTTLRequest{Path: "/m4", ACL: OpenACLUnsafe, Flags: ModePersistentWithTTL, TTL: 5}),
			NewMultiOp(OpSetData, &SetDataRequest{Path: "/m", Data: []byte("y"), Version: 0}),
			NewMultiOp(OpCheck, &CheckVersionRequest{Path: "/m", Version: 1}),
			NewMultiOp(OpDelete, &DeleteRequest{Path: "/m", Version: -1}),
		}}},
		{"MultiRequest/read", &MultiRequest{Ops: []MultiOp{
			NewMultiOp(OpGetData, &GetDataRequest{Path: "/a"}),
			NewMultiOp(OpGetChildren, &GetChildrenRequest{Path: "/"}),
		}}},
		{"MultiRequest/empty", &MultiRequest{}},
		{"MultiResponse", &MultiResponse{Results: []MultiResult{
			{Type: OpCreate, Path: "/m"},
			{Type: OpCreate2, Path: "/m2", Stat: testStat},
			{Type: OpSetData, Stat: testStat},
			{Type: OpCheck},
			{Type: OpDelete},
		}}},
		{"MultiResponse/failed", &MultiResponse{Results: []MultiResult{
			MultiError(ErrOK), MultiError(ErrBadVersion), MultiError(ErrRuntimeInconsistency),
		}}},
		{"MultiResponse/read", &MultiResponse{Results: []MultiResult{
			{Type: OpGetData, Data: []byte("v"), Stat: testStat},
			{Type: OpGetData, Data: []byte{}, Stat: testStat},
			{Type: OpGetData, Stat: testStat},
			{Type: OpGetChildren, Children: []string{"a"}},
			{Type: OpGetChildren, Children: []string{}},
			MultiError(ErrNoNode),
		}}},
		{"MultiResponse/empty", &MultiResponse{}},
	}
}

func newLike(r Record) Record {
	return reflect.New(reflect.TypeOf(r).Elem()).Interface().(Record)
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range recordCases() {
		t.Run(tc.name, func(t *testing.T) {
			b := Marshal(tc.rec)
			got := newLike(tc.rec)
			if err := Unmarshal(b, got); err != nil {
				t.Fatalf("Unmarshal(% x): %v", b, err)
			}
			if !reflect.DeepEqual(got, tc.rec) {
				t.Fatalf("round trip mismatch:\n got %#v\nwant %#v", got, tc.rec)
			}
			// Decoding into a record that already holds other values must
			// overwrite every field.
			dirty := newLike(tc.rec)
			for _, other := range recordCases() {
				if reflect.TypeOf(other.rec) == reflect.TypeOf(tc.rec) && other.name != tc.name {
					dirty = other.rec
					break
				}
			}
			dirty = reflect.ValueOf(cloneRecord(t, dirty)).Interface().(Record)
			if err := Unmarshal(b, dirty); err != nil {
				t.Fatalf("Unmarshal into used record: %v", err)
			}
			if !reflect.DeepEqual(dirty, tc.rec) {
				t.Fatalf("decode into used record left stale fields:\n got %#v\nwant %#v", dirty, tc.rec)
			}
		})
	}
}

func cloneRecord(t *testing.T, r Record) Record {
	t.Helper()
	c := newLike(r)
	if err := Unmarshal(Marshal(r), c); err != nil {
		t.Fatalf("clone %T: %v", r, err)
	}
	return c
}

// TestEveryRecordCovered parses records.go and requires a round-trip case
// for every struct type declared there, so a new record cannot go untested.
func TestEveryRecordCovered(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "records.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, tc := range recordCases() {
		covered[reflect.TypeOf(tc.rec).Elem().Name()] = true
	}
	n := 0
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			if _, ok := ts.Type.(*ast.StructType); !ok {
				continue
			}
			n++
			if !covered[ts.Name.Name] {
				t.Errorf("record %s has no round-trip case", ts.Name.Name)
			}
		}
	}
	if n < 60 {
		t.Fatalf("found only %d record types in records.go; parser out of step?", n)
	}
}

// TestTruncated feeds every proper prefix of every encoded record to Decode:
// each must fail with ErrShortBuffer, never panic. The one exception is the
// connect handshake, whose trailing readOnly byte is optional.
func TestTruncated(t *testing.T) {
	for _, tc := range recordCases() {
		t.Run(tc.name, func(t *testing.T) {
			b := Marshal(tc.rec)
			for i := 0; i < len(b); i++ {
				prefix := bytes.Clone(b[:i])
				err := Unmarshal(prefix, newLike(tc.rec))
				if i == len(b)-1 && strings.HasPrefix(tc.name, "Connect") {
					if err != nil {
						t.Fatalf("%s without readOnly byte: %v", tc.name, err)
					}
					continue
				}
				if !errors.Is(err, ErrShortBuffer) {
					t.Fatalf("prefix of %d/%d bytes: err = %v, want ErrShortBuffer", i, len(b), err)
				}
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := []struct {
		name string
		rec  Record
		b    []byte
		want error
	}{
		{"negative string length", &GetDataRequest{}, []byte{0xff, 0xff, 0xff, 0xfe, 0}, ErrBadLength},
		{"negative vector count", &GetChildrenResponse{}, []byte{0x80, 0, 0, 0}, ErrBadLength},
		{"huge vector count", &GetACLResponse{}, []byte{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0}, ErrShortBuffer},
		{"huge buffer length", &SetDataRequest{}, []byte{0, 0, 0, 1, '/', 0x7f, 0, 0, 0}, ErrShortBuffer},
		{"multi op type not allowed", &MultiRequest{}, []byte{0, 0, 0, 3, 0, 0xff, 0xff, 0xff, 0xff}, ErrInvalidOp},
		{"multi deleteContainer", &MultiRequest{}, []byte{0, 0, 0, 20, 0, 0xff, 0xff, 0xff, 0xff}, ErrInvalidOp},
		{"multi result type not allowed", &MultiResponse{}, []byte{0, 0, 0, 4 + 100, 0, 0, 0, 0, 0}, ErrInvalidOp},
		{"multi without end", &MultiRequest{}, []byte{0, 0, 0, 2, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, '/', 0, 0, 0, 0}, ErrShortBuffer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Unmarshal(tc.b, tc.rec)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestUnmarshalTrailingBytes(t *testing.T) {
	b := append(Marshal(&DeleteRequest{Path: "/x", Version: 1}), 0)
	if err := Unmarshal(b, &DeleteRequest{}); err == nil {
		t.Fatal("Unmarshal accepted a trailing byte")
	}
}

// be builds big-endian test vectors by hand.
type be []byte

func (b be) i32(v int32) be  { return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v)) }
func (b be) i64(v int64) be  { return b.i32(int32(v >> 32)).i32(int32(v)) }
func (b be) bool(v bool) be  { return append(b, map[bool]byte{false: 0, true: 1}[v]) }
func (b be) str(s string) be { return append(b.i32(int32(len(s))), s...) }

func TestGolden(t *testing.T) {
	passwd := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	cases := []struct {
		name string
		rec  Record
		want []byte
	}{
		{
			// What a 3.4+ client sends: protocolVersion 0, lastZxidSeen,
			// timeOut, sessionId, passwd, readOnly.
			"ConnectRequest",
			&ConnectRequest{LastZxidSeen: 0x100000002, TimeOut: 30000, SessionID: 0x1000000abcdef, Passwd: passwd, ReadOnly: true},
			[]byte{
				0, 0, 0, 0, // protocolVersion
				0, 0, 0, 1, 0, 0, 0, 2, // lastZxidSeen
				0, 0, 0x75, 0x30, // timeOut 30000
				0, 1, 0, 0, 0, 0xab, 0xcd, 0xef, // sessionId
				0, 0, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, // passwd
				1, // readOnly
			},
		},
		{
			"ReplyHeader",
			&ReplyHeader{Xid: -2, Zxid: 0x500000007, Err: ErrNoNode},
			[]byte{0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 5, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0x9b},
		},
		{
			"MultiRequest",
			&MultiRequest{Ops: []MultiOp{
				NewMultiOp(OpCreate, &CreateRequest{Path: "/a", Data: []byte("x"), ACL: OpenACLUnsafe, Flags: ModeEphemeral}),
				NewMultiOp(OpDelete, &DeleteRequest{Path: "/b", Version: -1}),
			}},
			[]byte(be{}.
				i32(1).bool(false).i32(-1). // MultiHeader{create, false, -1}
				str("/a").str("x").i32(1).i32(31).str("world").str("anyone").i32(1).
				i32(2).bool(false).i32(-1). // MultiHeader{delete, false, -1}
				str("/b").i32(-1).
				i32(-1).bool(true).i32(-1)), // end
		},
		{
			"MultiResponse",
			&MultiResponse{Results: []MultiResult{
				{Type: OpCreate, Path: "/a"},
				{Type: OpDelete},
				MultiError(ErrNotEmpty),
			}},
			[]byte(be{}.
				i32(1).bool(false).i32(0).str("/a").
				i32(2).bool(false).i32(0).
				i32(-1).bool(false).i32(-111).i32(-111).
				i32(-1).bool(true).i32(-1)),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Marshal(tc.rec); !bytes.Equal(got, tc.want) {
				t.Fatalf("Marshal =\n% x\nwant\n% x", got, tc.want)
			}
			got := newLike(tc.rec)
			if err := Unmarshal(tc.want, got); err != nil || !reflect.DeepEqual(got, tc.rec) {
				t.Fatalf("Unmarshal = %#v, %v; want %#v", got, err, tc.rec)
			}
		})
	}
}

// TestConnectWithoutReadOnly checks the pre-3.4 connect form, which
// go-zookeeper/zk still sends: no readOnly byte. Upstream then answers
// without readOnly too (compat.ProtocolManager).
func TestConnectWithoutReadOnly(t *testing.T) {
	full := Marshal(&ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), ReadOnly: true})
	old := full[:len(full)-1]
	if len(old) != 4+8+4+8+4+16 {
		t.Fatalf("old-form connect request is %d bytes, want 44", len(old))
	}
	var r ConnectRequest
	r.ReadOnly = true
	if err := Unmarshal(old, &r); err != nil || r.ReadOnly || r.TimeOut != 4000 {
		t.Fatalf("old form: %+v, %v", r, err)
	}
	req, has, err := DecodeConnectRequest(old)
	if err != nil || has || req.TimeOut != 4000 {
		t.Fatalf("DecodeConnectRequest(old) = %+v, %v, %v", req, has, err)
	}
	req, has, err = DecodeConnectRequest(full)
	if err != nil || !has || !req.ReadOnly {
		t.Fatalf("DecodeConnectRequest(full) = %+v, %v, %v", req, has, err)
	}
	if _, _, err := DecodeConnectRequest(old[:len(old)-1]); !errors.Is(err, ErrShortBuffer) {
		t.Fatalf("truncated passwd: err = %v", err)
	}

	resp := ConnectResponse{TimeOut: 4000, SessionID: 0x42, Passwd: passwdOf(16), ReadOnly: true}
	legacy := AppendConnectResponse(nil, &resp, false)
	modern := AppendConnectResponse(nil, &resp, true)
	wantLegacy := be{}.i32(4 + 4 + 8 + 4 + 16).i32(0).i32(4000).i64(0x42).i32(16)
	wantLegacy = append(wantLegacy, passwdOf(16)...)
	if !bytes.Equal(legacy, wantLegacy) {
		t.Fatalf("legacy response\n% x\nwant\n% x", legacy, []byte(wantLegacy))
	}
	wantModern := append(be{}.i32(37), wantLegacy[4:]...)
	wantModern = append(wantModern, 1)
	if !bytes.Equal(modern, wantModern) {
		t.Fatalf("modern response\n% x\nwant\n% x", modern, []byte(wantModern))
	}
	var got ConnectResponse
	if err := Unmarshal(legacy[4:], &got); err != nil || got.ReadOnly || got.SessionID != 0x42 {
		t.Fatalf("decode legacy response: %+v, %v", got, err)
	}
}

func passwdOf(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(0xa0 + i)
	}
	return p
}

func TestNewRequest(t *testing.T) {
	want := map[OpCode]Record{
		OpCreate: &CreateRequest{}, OpCreate2: &CreateRequest{}, OpCreateContainer: &CreateRequest{},
		OpCreateTTL: &CreateTTLRequest{}, OpDelete: &DeleteRequest{}, OpDeleteContainer: &DeleteRequest{},
		OpExists: &ExistsRequest{}, OpGetData: &GetDataRequest{}, OpSetData: &SetDataRequest{},
		OpGetACL: &GetACLRequest{}, OpSetACL: &SetACLRequest{}, OpGetChildren: &GetChildrenRequest{},
		OpGetChildren2: &GetChildren2Request{}, OpSync: &SyncRequest{}, OpCheck: &CheckVersionRequest{},
		OpMulti: &MultiRequest{}, OpMultiRead: &MultiRequest{}, OpReconfig: &ReconfigRequest{},
		OpCheckWatches: &CheckWatchesRequest{}, OpRemoveWatches: &RemoveWatchesRequest{},
		OpAuth: &AuthPacket{}, OpSetWatches: &SetWatches{}, OpSetWatches2: &SetWatches2{},
		OpSASL: &GetSASLRequest{}, OpGetEphemerals: &GetEphemeralsRequest{},
		OpGetAllChildrenNumber: &GetAllChildrenNumberRequest{}, OpAddWatch: &AddWatchRequest{},
		OpPing: &Empty{}, OpCloseSession: &Empty{}, OpWhoAmI: &Empty{},
	}
	for op := OpCode(-20); op < 200; op++ {
		rec, ok := NewRequest(op)
		w, known := want[op]
		if ok != known {
			t.Errorf("NewRequest(%v) ok = %v, want %v", op, ok, known)
			continue
		}
		if known && reflect.TypeOf(rec) != reflect.TypeOf(w) {
			t.Errorf("NewRequest(%v) = %T, want %T", op, rec, w)
		}
		if resp, rok := NewResponse(op); rok != known {
			t.Errorf("NewResponse(%v) ok = %v (%T), want %v", op, rok, resp, known)
		}
	}
	a, _ := NewRequest(OpGetData)
	b, _ := NewRequest(OpGetData)
	if a == b {
		t.Fatal("NewRequest returned a shared record")
	}
}

func TestVectorNilVsEmpty(t *testing.T) {
	if got := Marshal(&GetChildrenResponse{}); !bytes.Equal(got, []byte{0xff, 0xff, 0xff, 0xff}) {
		t.Fatalf("nil vector = % x, want ff ff ff ff", got)
	}
	if got := Marshal(&GetChildrenResponse{Children: []string{}}); !bytes.Equal(got, []byte{0, 0, 0, 0}) {
		t.Fatalf("empty vector = % x, want 00 00 00 00", got)
	}
	if got := Marshal(&CreateRequest{}); !bytes.Equal(got, be{}.i32(0).i32(-1).i32(-1).i32(0)) {
		t.Fatalf("CreateRequest{} = % x", got)
	}
}

// TestMultiResultWireTypes checks upstream's reporting of createTTL and
// createContainer results as create2, and deleteContainer as delete.
func TestMultiResultWireTypes(t *testing.T) {
	in := &MultiResponse{Results: []MultiResult{
		{Type: OpCreateTTL, Path: "/t", Stat: testStat},
		{Type: OpCreateContainer, Path: "/c", Stat: testStat},
		{Type: OpDeleteContainer},
		{Type: OpCheck, Stat: testStat, Path: "ignored"},
	}}
	want := &MultiResponse{Results: []MultiResult{
		{Type: OpCreate2, Path: "/t", Stat: testStat},
		{Type: OpCreate2, Path: "/c", Stat: testStat},
		{Type: OpDelete},
		{Type: OpCheck},
	}}
	var got MultiResponse
	if err := Unmarshal(Marshal(in), &got); err != nil || !reflect.DeepEqual(&got, want) {
		t.Fatalf("got %#v, %v\nwant %#v", got, err, want)
	}
}
