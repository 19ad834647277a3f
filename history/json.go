package history

import (
	"encoding/json"
	"fmt"
	"io"
)

// Record is a history with its final state, as saved for a later look at a
// failed run (or to re-check it with other options).
type Record struct {
	History *History
	Final   *Final `json:",omitempty"`
}

// WriteJSON writes r as JSON.
func (r Record) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("history: write record: %w", err)
	}
	return nil
}

// ReadJSON reads a Record written by WriteJSON.
func ReadJSON(rd io.Reader) (Record, error) {
	var r Record
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return Record{}, fmt.Errorf("history: read record: %w", err)
	}
	if r.History == nil {
		return Record{}, fmt.Errorf("history: read record: no history")
	}
	return r, nil
}
