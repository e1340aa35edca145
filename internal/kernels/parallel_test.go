package kernels

import (
	"sync"
	"sync/atomic"
	"testing"
)

// parallelFor and parallelChunks visit every item exactly once, with worker
// indexes below the thread count, from one caller, from several callers at
// once (the pool is busy: they start goroutines), and from inside a worker
// (nested); regions run back to back reuse the pool's workers.
func TestParallelRegions(t *testing.T) {
	defer SetThreads(ThreadSetting())
	SetThreads(3)
	check := func(t *testing.T, run func(n int, fn func(worker, lo, hi int)), n int) {
		t.Helper()
		seen := make([]atomic.Int32, n)
		var bad atomic.Bool
		run(n, func(w, lo, hi int) {
			if w < 0 || w >= 3 || lo < 0 || hi > n || lo >= hi {
				bad.Store(true)
			}
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
		})
		if bad.Load() {
			t.Fatalf("n=%d: a worker index or range was out of bounds", n)
		}
		for i := range seen {
			if c := seen[i].Load(); c != 1 {
				t.Fatalf("n=%d: item %d visited %d times", n, i, c)
			}
		}
	}
	for _, run := range []func(int, func(int, int, int)){parallelFor, parallelChunks} {
		for _, n := range []int{0, 1, 2, 3, 7, 64, 1000} {
			for range 20 { // back to back: the pool's workers are reused
				check(t, run, n)
			}
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					check(t, run, 97)
				}
			}()
		}
		wg.Wait()
		// Nested: a region started from inside a worker.
		var total atomic.Int64
		run(8, func(_, lo, hi int) {
			for range hi - lo {
				parallelFor(10, func(_, lo, hi int) { total.Add(int64(hi - lo)) })
			}
		})
		if total.Load() != 80 {
			t.Fatalf("nested regions visited %d items, want 80", total.Load())
		}
	}
}
