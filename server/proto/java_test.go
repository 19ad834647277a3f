package proto

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkbench/zkbench/internal/testenv"
	"github.com/zkbench/zkbench/internal/zkbin"
)

// javaGoldenRecords are the values testdata/JuteGolden.java encodes with
// upstream's own jute classes.
func javaGoldenRecords() map[string]Record {
	passwd := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	stat := Stat{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	acl := []ACL{{Perms: 31, ID: ID{"world", "anyone"}}, {Perms: 3, ID: ID{"digest", "bob:x"}}}
	return map[string]Record{
		"ConnectRequest":           &ConnectRequest{LastZxidSeen: 0x100000002, TimeOut: 30000, SessionID: 0x1000000abcdef, Passwd: passwd, ReadOnly: true},
		"ConnectResponse":          &ConnectResponse{TimeOut: 4000, SessionID: 0x42, Passwd: passwd},
		"ConnectRequestLegacy":     &ConnectRequest{LastZxidSeen: 0x100000002, TimeOut: 30000, SessionID: 0x1000000abcdef, Passwd: passwd},
		"ConnectResponseLegacy":    &ConnectResponse{TimeOut: 4000, SessionID: 0x42, Passwd: passwd},
		"ReplyHeader":              &ReplyHeader{Xid: -2, Zxid: 0x500000007, Err: ErrNoNode},
		"RequestHeader":            &RequestHeader{Xid: 42, Type: OpGetData},
		"GetDataResponse":          &GetDataResponse{Data: []byte("hello"), Stat: stat},
		"GetDataResponseNull":      &GetDataResponse{Stat: stat},
		"CreateRequest":            &CreateRequest{Path: "/c", Data: []byte("d"), ACL: acl, Flags: 3},
		"CreateRequestNullACL":     &CreateRequest{Path: "/c"},
		"CreateTTLRequest":         &CreateTTLRequest{Path: "/t", Data: []byte{}, ACL: acl, Flags: 5, TTL: 60000},
		"SetDataRequest":           &SetDataRequest{Path: "/x", Data: []byte("v"), Version: -1},
		"GetChildren2Response":     &GetChildren2Response{Children: []string{"a", "b"}, Stat: stat},
		"GetChildrenResponseEmpty": &GetChildrenResponse{Children: []string{}},
		"GetACLResponse":           &GetACLResponse{ACL: acl, Stat: stat},
		"SetWatches2":              &SetWatches2{RelativeZxid: 9, DataWatches: []string{"/a"}, ChildWatches: []string{}, PersistentWatches: []string{"/p"}, PersistentRecursiveWatches: []string{"/r", "/s"}},
		"WatcherEvent":             &WatcherEvent{Type: EventNodeDataChanged, State: StateSyncConnected, Path: "/w"},
		"AuthPacket":               &AuthPacket{Scheme: "digest", Auth: []byte("bob:pw")},
		"TxnHeader":                &TxnHeader{ClientID: 0x1234, Cxid: 9, Zxid: 0x100000009, Time: 1700000000000, Type: OpCreate},
		"CreateTxn":                &CreateTxn{Path: "/n", Data: []byte("v"), ACL: acl, Ephemeral: true, ParentCVersion: 4},
		"MultiTxn":                 &MultiTxn{Txns: []Txn{{Type: OpCreate, Data: []byte("a")}, {Type: OpError, Data: []byte{0, 0, 0, 1}}}},
		"QuorumPacket":             &QuorumPacket{Type: 2, Zxid: 0x500000001, Data: []byte("txn")},
		"MultiRequest": &MultiRequest{Ops: []MultiOp{
			NewMultiOp(OpCreate, &CreateRequest{Path: "/a", Data: []byte("x"), ACL: OpenACLUnsafe, Flags: ModeEphemeral}),
			NewMultiOp(OpSetData, &SetDataRequest{Path: "/a", Data: []byte("y"), Version: 3}),
			NewMultiOp(OpCheck, &CheckVersionRequest{Path: "/a", Version: 4}),
			NewMultiOp(OpDelete, &DeleteRequest{Path: "/b", Version: -1}),
		}},
		"MultiReadRequest": &MultiRequest{Ops: []MultiOp{
			NewMultiOp(OpGetData, &GetDataRequest{Path: "/a"}),
			NewMultiOp(OpGetChildren, &GetChildrenRequest{Path: "/"}),
		}},
		"MultiResponse": &MultiResponse{Results: []MultiResult{
			{Type: OpCreate, Path: "/a"},
			{Type: OpCreate2, Path: "/a2", Stat: stat},
			{Type: OpSetData, Stat: stat},
			{Type: OpCheck},
			{Type: OpDelete},
			{Type: OpGetData, Data: []byte("d"), Stat: stat},
			{Type: OpGetChildren, Children: []string{"k"}},
			MultiError(ErrNotEmpty),
		}},
	}
}

// TestIntegration_JavaJute compiles testdata/JuteGolden.java against the
// installed upstream jars and requires proto to encode every record to the
// very bytes upstream's jute does, and to decode upstream's bytes back to
// the same values.
func TestIntegration_JavaJute(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the Java jute comparison")
	}
	j, err := zkbin.FindJava(zkbin.LogNone)
	if err != nil {
		testenv.Missing(t, "%v; upstream byte comparison not run", err)
	}
	javac, err := exec.LookPath("javac")
	if err != nil {
		testenv.Missing(t, "javac not found: install a JDK; upstream byte comparison not run")
	}
	dir := t.TempDir()
	cp := j.ClasspathString()
	out, err := exec.Command(javac, "-cp", cp, "-d", dir, filepath.Join("testdata", "JuteGolden.java")).CombinedOutput()
	if err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	cmd := exec.Command(j.Bin, "-Xmx64m", "-cp", dir+":"+cp, "JuteGolden")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("java: %v\n%s", err, stderr.String())
	}
	want := javaGoldenRecords()
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, hexBytes, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		rec, known := want[name]
		if !known {
			t.Errorf("Java printed %s, which the Go table lacks", name)
			continue
		}
		seen++
		javaBytes, err := hex.DecodeString(hexBytes)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := Marshal(rec)
		if strings.HasSuffix(name, "Legacy") {
			got = got[:len(got)-1] // the pre-3.4 form has no readOnly byte
		}
		if !bytes.Equal(got, javaBytes) {
			t.Errorf("%s: Go encodes\n% x\nJava encodes\n% x", name, got, javaBytes)
		}
		back := newLike(rec)
		if err := Unmarshal(javaBytes, back); err != nil {
			t.Errorf("%s: decoding Java's bytes: %v", name, err)
		}
	}
	if seen != len(want) {
		t.Fatalf("compared %d records, want %d; Java output:\n%s", seen, len(want), out)
	}
}
