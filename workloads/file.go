package workloads

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// fileSpec is the on-disk form of a Spec: durations as Go duration strings
// ("30s"), operation names as strings, and pointers so that Load can tell a
// field that is absent (keep the default) from one set to zero.
type fileSpec struct {
	Name         *string        `json:"name,omitempty"`
	ReadPercent  *float64       `json:"read_percent,omitempty"`
	WritePercent *float64       `json:"write_percent,omitempty"`
	Mix          []fileOpWeight `json:"mix,omitempty"`
	ValueSize    *int           `json:"value_size,omitempty"`
	Keys         *int           `json:"keys,omitempty"`
	Clients      *int           `json:"clients,omitempty"`
	Outstanding  *int           `json:"outstanding,omitempty"`
	Warmup       *fileDuration  `json:"warmup,omitempty"`
	WarmupMax    *fileDuration  `json:"warmup_max,omitempty"`
	Duration     *fileDuration  `json:"duration,omitempty"`
	Mode         *Mode          `json:"mode,omitempty"`
	Rate         *float64       `json:"rate,omitempty"`
	KeyDist      *KeyDist       `json:"key_dist,omitempty"`
	ZipfS        *float64       `json:"zipf_s,omitempty"`
	MultiSize    *int           `json:"multi_size,omitempty"`
	Seed         *int64         `json:"seed,omitempty"`
}

type fileOpWeight struct {
	Op     string  `json:"op"`
	Weight float64 `json:"weight"`
}

// fileDuration is a time.Duration written as "1.5s"; it also reads a bare
// number as seconds.
type fileDuration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d fileDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string, or a number of seconds.
func (d *fileDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("bad duration %q (want e.g. \"30s\")", s)
		}
		*d = fileDuration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("bad duration %s (want e.g. \"30s\")", b)
	}
	*d = fileDuration(secs * float64(time.Second))
	return nil
}

func ptr[T any](v T) *T { return &v }

func toFile(s Spec) fileSpec {
	f := fileSpec{
		Name:        ptr(s.Name),
		ReadPercent: ptr(s.ReadPercent),
		ValueSize:   ptr(s.ValueSize),
		Keys:        ptr(s.Keys),
		Clients:     ptr(s.Clients),
		Outstanding: ptr(s.Outstanding),
		Warmup:      ptr(fileDuration(s.Warmup)),
		Duration:    ptr(fileDuration(s.Duration)),
		Mode:        ptr(s.Mode),
		KeyDist:     ptr(s.KeyDist),
		Seed:        ptr(s.Seed),
		Rate:        ptr(s.Rate),
		ZipfS:       ptr(s.ZipfS),
		MultiSize:   ptr(s.MultiSize),
	}
	if s.WarmupMax > 0 {
		f.WarmupMax = ptr(fileDuration(s.WarmupMax))
	}
	for _, w := range s.Mix {
		f.Mix = append(f.Mix, fileOpWeight{Op: w.Op.String(), Weight: w.Weight})
	}
	return f
}

// overlay applies the fields present in f to s.
func (f fileSpec) overlay(s *Spec) error {
	if f.Name != nil {
		s.Name = *f.Name
	}
	if f.Mix != nil {
		mix := make([]OpWeight, len(f.Mix))
		for i, w := range f.Mix {
			t, err := ParseOpType(w.Op)
			if err != nil {
				return invalid("mix["+strconv.Itoa(i)+"].op", "unknown operation %q (want one of %s)", w.Op, strings.Join(OpNames(), ", "))
			}
			mix[i] = OpWeight{Op: t, Weight: w.Weight}
		}
		s.SetMix(mix)
	}
	switch {
	case f.ReadPercent != nil && f.WritePercent != nil:
		if *f.ReadPercent+*f.WritePercent != 100 {
			return invalid("write_percent", "%v and read_percent %v do not add up to 100", *f.WritePercent, *f.ReadPercent)
		}
		s.ReadPercent = *f.ReadPercent
	case f.ReadPercent != nil:
		s.ReadPercent = *f.ReadPercent
	case f.WritePercent != nil:
		if f.Mix != nil {
			return invalid("write_percent", "give either a mix or a write percentage, not both")
		}
		s.SetWritePercent(*f.WritePercent)
	}
	if f.ValueSize != nil {
		s.ValueSize = *f.ValueSize
	}
	if f.Keys != nil {
		s.Keys = *f.Keys
	}
	if f.Clients != nil {
		s.Clients = *f.Clients
	}
	if f.Outstanding != nil {
		s.Outstanding = *f.Outstanding
	}
	if f.Warmup != nil {
		s.Warmup = time.Duration(*f.Warmup)
	}
	if f.WarmupMax != nil {
		s.WarmupMax = time.Duration(*f.WarmupMax)
	}
	if f.Duration != nil {
		s.Duration = time.Duration(*f.Duration)
	}
	if f.Mode != nil {
		s.Mode = *f.Mode
	}
	if f.Rate != nil {
		s.Rate = *f.Rate
	}
	if f.KeyDist != nil {
		s.KeyDist = *f.KeyDist
	}
	if f.ZipfS != nil {
		s.ZipfS = *f.ZipfS
	}
	if f.MultiSize != nil {
		s.MultiSize = *f.MultiSize
	}
	if f.Seed != nil {
		s.Seed = *f.Seed
	}
	return nil
}

// MarshalJSON writes the spec in its file form (durations as "30s",
// operations by name), which is also how results embed it.
func (s Spec) MarshalJSON() ([]byte, error) { return json.Marshal(toFile(s)) }

// UnmarshalJSON reads the file form. Fields absent from the input keep the
// values they had (decode into Default() to get defaults); unknown fields are
// rejected. It does not validate: call Validate.
func (s *Spec) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f fileSpec
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	return f.overlay(s)
}

// Parse reads a spec from YAML or JSON (JSON is YAML, so either works),
// starting from Default: fields the document omits keep their defaults. The
// result is validated.
func Parse(data []byte) (Spec, error) {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Spec{}, fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	if doc == nil {
		doc = map[string]any{}
	}
	if _, ok := doc.(map[string]any); !ok {
		return Spec{}, fmt.Errorf("%w: want a mapping of fields, got %T", ErrInvalidSpec, doc)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return Spec{}, fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	s := Default()
	if err := s.UnmarshalJSON(js); err != nil {
		return Spec{}, err
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// Load reads and validates a spec file (YAML or JSON).
func Load(path string) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("workloads: load spec: %w", err)
	}
	s, err := Parse(data)
	if err != nil {
		return Spec{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Save writes the spec to path: JSON if the name ends in .json, YAML
// otherwise. It writes a temporary file and renames it into place.
func (s Spec) Save(path string) error {
	js, err := s.MarshalJSON()
	if err != nil {
		return fmt.Errorf("workloads: save spec: %w", err)
	}
	var data []byte
	if strings.EqualFold(filepath.Ext(path), ".json") {
		var buf bytes.Buffer
		if err := json.Indent(&buf, js, "", "  "); err != nil {
			return fmt.Errorf("workloads: save spec: %w", err)
		}
		buf.WriteByte('\n')
		data = buf.Bytes()
	} else {
		data, err = toYAML(js)
		if err != nil {
			return fmt.Errorf("workloads: save spec: %w", err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("workloads: save spec: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("workloads: save spec: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("workloads: save spec: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("workloads: save spec: %w", err)
	}
	return nil
}

// toYAML converts the JSON form to YAML, keeping the field order of fileSpec.
func toYAML(js []byte) ([]byte, error) {
	var node yaml.Node
	if err := yaml.Unmarshal(js, &node); err != nil {
		return nil, err
	}
	// JSON parsed as YAML is in flow style; print it in block style.
	var unflow func(n *yaml.Node)
	unflow = func(n *yaml.Node) {
		n.Style &^= yaml.FlowStyle
		if n.Kind == yaml.ScalarNode && n.Style&yaml.DoubleQuotedStyle != 0 {
			n.Style = 0
		}
		for _, c := range n.Content {
			unflow(c)
		}
	}
	unflow(&node)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
