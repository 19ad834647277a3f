package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/zkbench/zkbench/results"
)

// writeJSON writes v as indented JSON, the form of every --json output.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// writeCompareJSON is compare --json: the directory written and each
// result's label, directory and summary.
func writeCompareJSON(w io.Writer, dir string, labels, dirs []string, rs []*results.Result) error {
	type column struct {
		Label   string          `json:"label"`
		Dir     string          `json:"dir"`
		Summary results.Summary `json:"summary"`
	}
	out := struct {
		Dir     string   `json:"dir"`
		Results []column `json:"results"`
	}{Dir: dir}
	for i, r := range rs {
		out.Results = append(out.Results, column{labels[i], dirs[i], results.Summarize(r)})
	}
	return writeJSON(w, out)
}
