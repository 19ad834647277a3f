package history

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// linInput is a porcupine input: a write of value, or a read.
type linInput struct {
	write bool
	value string
}

// registerModel is a single register holding a string: one key's data. A
// write always succeeds; a read must return the current value.
var registerModel = porcupine.Model{
	Init: func() any { return "" }, // replaced per key, see keyModel
	Step: func(state, input, output any) (bool, any) {
		in := input.(linInput)
		if in.write {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	Hash: func(state any) uint64 {
		h := fnv.New64a()
		h.Write([]byte(state.(string)))
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in := input.(linInput)
		if in.write {
			return fmt.Sprintf("write(%q)", in.value)
		}
		return fmt.Sprintf("read() -> %q", output.(string))
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%q", state.(string)) },
}

func keyModel(initial string) porcupine.Model {
	m := registerModel
	m.Init = func() any { return initial }
	return m
}

// linearHistory builds the porcupine history of one key (see doc.go for
// exactly what it contains) and says, by porcupine index, which operation
// each entry stands for (nil for the final read).
func (ix *index) linearHistory(k string) ([]porcupine.Operation, []*Operation, int) {
	// The latest sync each session completed before each read.
	type syncRec struct {
		call, ret int64
		latest    int64 // the latest call among this and the syncs that returned before it
	}
	syncs := map[int64][]syncRec{}
	var maxT int64
	for i := range ix.h.Ops {
		o := &ix.h.Ops[i]
		if o.Call > maxT {
			maxT = o.Call
		}
		if e := o.End(); e != Infinity && e > maxT {
			maxT = e
		}
		if o.Op.Kind == KindSync && o.Outcome == OutcomeOK && o.Session != 0 {
			syncs[o.Session] = append(syncs[o.Session], syncRec{o.Call, o.Return, o.Call})
		}
	}
	for _, s := range syncs {
		slices.SortFunc(s, func(a, b syncRec) int { return cmp.Compare(a.ret, b.ret) })
		for i := 1; i < len(s); i++ {
			s[i].latest = max(s[i].call, s[i-1].latest)
		}
	}
	// syncedFrom returns the invocation time of the latest sync that
	// session completed no later than t.
	syncedFrom := func(session, t int64) (int64, bool) {
		s := syncs[session]
		i, _ := slices.BinarySearchFunc(s, t+1, func(r syncRec, t int64) int { return cmp.Compare(r.ret, t) })
		if i == 0 {
			return 0, false
		}
		return s[i-1].latest, true
	}

	var reads []porcupine.Operation
	var readOps []*Operation
	observed := map[string]bool{}
	for _, o := range ix.byKey[k] {
		if o.Op.Kind != KindRead || o.Outcome != OutcomeOK || o.Session == 0 {
			continue
		}
		from, ok := syncedFrom(o.Session, o.Call)
		if !ok {
			continue
		}
		observed[o.Result.Value] = true
		reads = append(reads, porcupine.Operation{ClientId: o.Client, Input: linInput{}, Output: o.Result.Value, Call: from, Return: o.Return})
		readOps = append(readOps, o)
	}
	finalIdx := -1
	if ix.final != nil {
		if s, ok := ix.final.Keys[k]; ok && !s.Missing { // a missing key is lost-writes' to report
			observed[s.Value] = true
			finalIdx = len(reads)
			reads = append(reads, porcupine.Operation{ClientId: 0, Input: linInput{}, Output: s.Value, Call: maxT + 1, Return: maxT + 2})
			readOps = append(readOps, nil)
		}
	}
	var ops []porcupine.Operation
	var src []*Operation
	for _, o := range ix.byKey[k] {
		if o.Op.Kind != KindWrite || !o.MaybeWrote() || ix.writeOf(k, o.Op.Value) != o {
			continue
		}
		if o.End() == Infinity && !observed[o.Op.Value] {
			// A write of unknown outcome whose value no linearizable read
			// saw can be linearized last, after everything: leaving it out
			// changes no verdict and spares the search.
			continue
		}
		ops = append(ops, porcupine.Operation{ClientId: o.Client, Input: linInput{write: true, value: o.Op.Value}, Call: o.Call, Return: o.End(), Output: ""})
		src = append(src, o)
	}
	if finalIdx >= 0 {
		finalIdx += len(ops)
	}
	return append(ops, reads...), append(src, readOps...), finalIdx
}

func (ix *index) checkLinearizable(opts CheckOptions) CheckResult {
	var bad, undecided []Finding
	nOps, nKeys := 0, 0
	for _, k := range ix.keys {
		ops, src, finalIdx := ix.linearHistory(k)
		if len(ops) == 0 {
			continue
		}
		nKeys++
		nOps += len(ops)
		model := keyModel(ix.initial[k].Value)
		switch porcupine.CheckOperationsTimeout(model, ops, opts.LinearizabilityTimeout) {
		case porcupine.Ok:
		case porcupine.Unknown:
			undecided = append(undecided, Finding{Key: k, Message: fmt.Sprintf("porcupine did not decide within %v (%d operations)", opts.LinearizabilityTimeout, len(ops))})
		case porcupine.Illegal:
			bad = append(bad, ix.explainIllegal(k, model, ops, src, finalIdx, opts))
		}
	}
	return result(CheckLinearizable, fmt.Sprintf("%d writes and synced reads on %d keys", nOps, nKeys), bad, undecided)
}

// explainIllegal reruns porcupine verbosely and describes where the longest
// linearization of key k gets stuck.
func (ix *index) explainIllegal(k string, model porcupine.Model, ops []porcupine.Operation, src []*Operation, finalIdx int, opts CheckOptions) Finding {
	f := Finding{Key: k}
	res, info := porcupine.CheckOperationsVerbose(model, ops, opts.LinearizabilityTimeout)
	if opts.VisualizeDir != "" {
		name := filepath.Join(opts.VisualizeDir, strings.NewReplacer("/", "_").Replace(strings.TrimPrefix(k, "/"))+".html")
		if file, err := os.Create(name); err == nil {
			porcupine.Visualize(model, info, file)
			file.Close()
		}
	}
	opOf := func(i int) Operation {
		if i == finalIdx {
			return Operation{ID: -1, Op: Read(k), Call: ops[i].Call, Return: ops[i].Return, Outcome: OutcomeOK,
				Result: Result{Value: ops[i].Output.(string)}, Err: "the final read:"}
		}
		return *src[i]
	}
	var longest []int
	if parts := info.PartialLinearizations(); res == porcupine.Illegal && len(parts) == 1 {
		for _, p := range parts[0] {
			if len(p) > len(longest) {
				longest = p
			}
		}
	}
	in := map[int]bool{}
	for _, i := range longest {
		in[i] = true
	}
	// The operations that could not come next: those outside the longest
	// linearization, earliest invoked first.
	var rest []int
	for i := range ops {
		if !in[i] {
			rest = append(rest, i)
		}
	}
	slices.SortFunc(rest, func(a, b int) int { return cmp.Compare(ops[a].Call, ops[b].Call) })
	state := ix.initial[k].Value
	for _, i := range longest {
		if in := ops[i].Input.(linInput); in.write {
			state = in.value
		}
	}
	f.Message = fmt.Sprintf("not linearizable: the longest linearization covers %d of %d operations and leaves the value %q; none of the rest can come next. Its last steps, then the first operations left out:", len(longest), len(ops), state)
	for _, i := range longest[max(0, len(longest)-4):] {
		f.Ops = append(f.Ops, opOf(i))
	}
	for _, i := range rest[:min(len(rest), 4)] {
		f.Ops = append(f.Ops, opOf(i))
	}
	return f
}
