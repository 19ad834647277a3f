package faultfs

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// modelFile is the naive model of one file: its content now and at its
// last fsync (nil synced: created and never fsynced).
type modelFile struct {
	now, synced []byte
}

// TestPowerLossMatchesNaiveModel runs seeded random writes, truncates,
// fsyncs and power losses on a few files through the mount and checks,
// after every power loss, that each file holds exactly what a naive model
// (the whole content copied at each fsync) says survived.
func TestPowerLossMatchesNaiveModel(t *testing.T) {
	f := mount(t)
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 22))
		dir := filepath.Join(f.Mountpoint(), fmt.Sprint("s", seed))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		model := map[string]*modelFile{}
		names := []string{"a", "b", "c"}
		for step := 0; step < 200; step++ {
			name := names[rng.IntN(len(names))]
			p := filepath.Join(dir, name)
			m := model[name]
			switch op := rng.IntN(10); {
			case op < 5: // write at a random offset, maybe past the end
				if m == nil {
					m = &modelFile{}
					model[name] = m
				}
				off := rng.IntN(len(m.now) + 3*pageSize)
				data := make([]byte, 1+rng.IntN(2*pageSize))
				for i := range data {
					data[i] = byte('a' + rng.IntN(26))
				}
				w, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.WriteAt(data, int64(off)); err != nil {
					t.Fatal(err)
				}
				w.Close()
				if end := off + len(data); end > len(m.now) {
					m.now = append(m.now, make([]byte, end-len(m.now))...)
				}
				copy(m.now[off:], data)
			case op < 6 && m != nil: // truncate to a random size
				size := rng.IntN(len(m.now) + pageSize)
				if err := os.Truncate(p, int64(size)); err != nil {
					t.Fatal(err)
				}
				if size <= len(m.now) {
					m.now = m.now[:size]
				} else {
					m.now = append(m.now, make([]byte, size-len(m.now))...)
				}
			case op < 8 && m != nil: // fsync
				w, err := os.OpenFile(p, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Sync(); err != nil {
					t.Fatal(err)
				}
				w.Close()
				m.synced = bytes.Clone(m.now)
			case op == 9: // power loss
				if _, err := f.PowerLoss(); err != nil {
					t.Fatal(err)
				}
				for n, m := range model {
					got, err := os.ReadFile(filepath.Join(dir, n))
					if m.synced == nil {
						if !errors.Is(err, os.ErrNotExist) {
							t.Fatalf("seed %d step %d: %s was never fsynced, yet after power loss: %d bytes, %v", seed, step, n, len(got), err)
						}
						delete(model, n)
						continue
					}
					if err != nil {
						t.Fatalf("seed %d step %d: %v", seed, step, err)
					}
					if !bytes.Equal(got, m.synced) {
						t.Fatalf("seed %d step %d: %s after power loss has %d bytes, the model %d (first difference at %d)",
							seed, step, n, len(got), len(m.synced), firstDiff(got, m.synced))
					}
					m.now = bytes.Clone(m.synced)
				}
			}
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
