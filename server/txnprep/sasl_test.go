package txnprep

import (
	"testing"

	"github.com/zkbench/zkbench/server/proto"
)

// sasl ACL ids are valid as upstream's KerberosName parses them.
func TestValidSASLID(t *testing.T) {
	for id, want := range map[string]bool{
		"bob": true, "": true, "zk/host@EXAMPLE.COM": true, "bob@R": true, "a/b/c": true,
		"a@b@c": false, "a/b/c@R": false, "bob@R/x": false,
	} {
		if got := validID(proto.ID{Scheme: "sasl", ID: id}); got != want {
			t.Errorf("sasl:%q valid %v, want %v", id, got, want)
		}
	}
}
