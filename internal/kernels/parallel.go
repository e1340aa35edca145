package kernels

import (
	"sync"
	"sync/atomic"
)

// parallelFor runs fn over [0, n) on at most Threads() goroutines (one of
// them the caller's), handing out small ranges as workers become free: with
// fixed halves, a core slowed by anything else (the OS, the GC, a slower
// cache) left the other idle at every join. worker is the goroutine's index,
// for picking per-worker scratch; which worker gets which items varies from
// run to run, so per-item results must not depend on it (use parallelChunks
// for per-worker sums).
func parallelFor(n int, fn func(worker, lo, hi int)) {
	t := min(Threads(), n)
	if t <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	grain := max(1, n/(64*t))
	var next atomic.Int64
	run := func(w int) {
		for {
			lo := int(next.Add(int64(grain))) - grain
			if lo >= n {
				return
			}
			fn(w, lo, min(lo+grain, n))
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < t; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			run(w)
		}(w)
	}
	run(0)
	wg.Wait()
}

// parallelChunks splits [0, n) into at most Threads() fixed contiguous
// chunks, one per goroutine (chunk 0 on the caller's), so per-worker
// partial sums are the same from run to run.
func parallelChunks(n int, fn func(worker, lo, hi int)) {
	t := min(Threads(), n)
	if t <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < t; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			fn(w, w*n/t, (w+1)*n/t)
		}(w)
	}
	fn(0, 0, n/t)
	wg.Wait()
}

// workers is how many chunks parallelFor will use for n items.
func workers(n int) int { return max(1, min(Threads(), n)) }

// Workspace is scratch memory kept between calls so a training step does
// not allocate: one slab per worker, grown when shapes grow. A Workspace
// serialises the kernels that use it; give each op its own.
type Workspace struct {
	mu   sync.Mutex
	bufs [][]float32
}

// slabs locks ws and returns n slabs of at least size floats each; call
// ws.mu.Unlock when done. Contents are garbage.
func (ws *Workspace) slabs(n, size int) [][]float32 {
	ws.mu.Lock()
	for len(ws.bufs) < n {
		ws.bufs = append(ws.bufs, nil)
	}
	for i := 0; i < n; i++ {
		if cap(ws.bufs[i]) < size {
			ws.bufs[i] = make([]float32, size)
		}
		ws.bufs[i] = ws.bufs[i][:size]
	}
	return ws.bufs[:n]
}
