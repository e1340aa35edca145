package kernels

import "sync"

// parallelFor splits [0, n) into at most Threads() contiguous chunks and runs
// fn on each in its own goroutine (chunk 0 on the caller's). worker is the
// chunk's index, for picking per-worker scratch.
func parallelFor(n int, fn func(worker, lo, hi int)) {
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
