package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// parallelFor runs fn over [0, n) on at most Threads() goroutines (one of
// them the caller's), handing out small ranges as workers become free: with
// fixed halves, a core slowed by anything else (the OS, the GC, a slower
// cache) left the other idle at every join. worker is the goroutine's index,
// for picking per-worker scratch; which worker gets which items varies from
// run to run, so per-item results must not depend on it (use parallelChunks
// for per-worker sums).
func parallelFor(n int, fn func(worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	t := min(Threads(), n)
	grain := max(1, n/(64*t))
	var next atomic.Int64
	run(t, func(w int) {
		for {
			lo := int(next.Add(int64(grain))) - grain
			if lo >= n {
				return
			}
			fn(w, lo, min(lo+grain, n))
		}
	})
}

// ParallelFor is parallelFor for other packages' loops (batch norm's
// channels): fn(worker, lo, hi) over [0, n) on the kernels' workers.
func ParallelFor(n int, fn func(worker, lo, hi int)) { parallelFor(n, fn) }

// parallelChunks splits [0, n) into at most Threads() fixed contiguous
// chunks, one per worker (chunk 0 on the caller's goroutine), so per-worker
// partial sums are the same from run to run.
func parallelChunks(n int, fn func(worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	t := min(Threads(), n)
	run(t, func(w int) { fn(w, w*n/t, (w+1)*n/t) })
}

// run calls body(w) for w in [0, t) concurrently, body(0) on the caller's
// goroutine (alone when t is 1), and returns when all are done. It uses the
// shared pool of waiting workers when it is free; a nested or concurrent
// call (serving several requests at once) starts goroutines instead.
func run(t int, body func(w int)) {
	if t <= 1 {
		body(0)
		return
	}
	if workPool.mu.TryLock() {
		workPool.run(t, body)
		workPool.mu.Unlock()
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < t; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			body(w)
		}(w)
	}
	body(0)
	wg.Wait()
}

// pool keeps worker goroutines between parallel regions. A training step
// runs some forty short regions one after another; starting a goroutine
// for each cost a wake-up of an idle thread every time (about 50 µs on
// this VM), and one core idled meanwhile: 14% of a step at batch 128.
// Workers spin for a while after a region, so the next one starts at once,
// and then sleep.
type pool struct {
	mu      sync.Mutex // one region at a time
	helpers int        // started worker goroutines, numbered 1..helpers

	gen     atomic.Uint64 // bumped to start a region
	t       int           // workers taking part in the current region
	body    func(w int)
	pending atomic.Int64 // helpers not yet done with the current region

	sleepMu  sync.Mutex
	sleepers int
	wake     *sync.Cond
}

var workPool = func() *pool {
	p := &pool{}
	p.wake = sync.NewCond(&p.sleepMu)
	return p
}()

// spinFor is how long an idle worker polls for the next region before it
// sleeps: longer than the serial gaps between the regions of a step.
const spinFor = 200 * time.Microsecond

func (p *pool) run(t int, body func(w int)) {
	for p.helpers < t-1 {
		p.helpers++
		go p.helper(p.helpers, p.gen.Load())
	}
	p.t, p.body = t, body
	p.pending.Store(int64(p.helpers))
	p.gen.Add(1) // publishes t and body to the helpers
	p.sleepMu.Lock()
	if p.sleepers > 0 {
		p.wake.Broadcast()
	}
	p.sleepMu.Unlock()
	body(0)
	for i := 0; p.pending.Load() > 0; i++ {
		if i%64 == 63 {
			runtime.Gosched() // let a helper sharing this P finish
		}
	}
	p.body = nil
}

func (p *pool) helper(w int, seen uint64) {
	for {
		seen = p.await(seen)
		if w < p.t {
			p.body(w)
		}
		p.pending.Add(-1)
	}
}

// await returns the next generation after seen: polling first, then
// sleeping until run broadcasts.
func (p *pool) await(seen uint64) uint64 {
	deadline := time.Now().Add(spinFor)
	for i := 0; ; i++ {
		if g := p.gen.Load(); g != seen {
			return g
		}
		if i%64 == 63 {
			if time.Now().After(deadline) {
				break
			}
			runtime.Gosched()
		}
	}
	p.sleepMu.Lock()
	p.sleepers++
	for p.gen.Load() == seen {
		p.wake.Wait()
	}
	p.sleepers--
	p.sleepMu.Unlock()
	return p.gen.Load()
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
