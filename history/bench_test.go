package history

import "testing"

// BenchmarkCheck measures every checker on one simulated history of about
// 3,000 operations over 3 keys.
func BenchmarkCheck(b *testing.B) {
	h, f := newSim(1, 8, 3, 3).run(2000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := Check(h, f); !r.OK() {
			b.Fatal(r)
		}
	}
	b.ReportMetric(float64(len(h.Ops)), "ops/history")
}

// BenchmarkRecorder measures Invoke plus Return.
func BenchmarkRecorder(b *testing.B) {
	rec := NewRecorder()
	op := Read("/k")
	for i := 0; i < b.N; i++ {
		rec.Invoke(0, 1, op).Return(Result{Value: "v"})
	}
}
