package history

import (
	"bytes"
	"reflect"
	"testing"
)

func TestRecordJSONRoundTrip(t *testing.T) {
	h, f := newSim(3, 4, 2, 3).run(100)
	var buf bytes.Buffer
	if err := (Record{History: h, Final: f}).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.History, h) || !reflect.DeepEqual(got.Final, f) {
		t.Fatal("record changed in a JSON round trip")
	}
	if r := Check(got.History, got.Final); !r.OK() {
		t.Fatalf("re-read record fails its check:\n%s", r)
	}
	if _, err := ReadJSON(bytes.NewReader([]byte(`{"Final":null}`))); err == nil {
		t.Fatal("a record without a history was accepted")
	}
}
