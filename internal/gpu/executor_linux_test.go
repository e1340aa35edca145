//go:build linux

package gpu

import (
	"sync"
	"syscall"
	"testing"
)

// A CUDA context is current on one thread: every call must land there, even
// when many goroutines submit work.
func TestExecutorUsesOneThread(t *testing.T) {
	var tid int
	e, err := newExecutor(func() error { tid = syscall.Gettid(); return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer e.stop()
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int]bool{}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				_ = e.do(func() error {
					mu.Lock()
					seen[syscall.Gettid()] = true
					mu.Unlock()
					return nil
				})
			}
		}()
	}
	wg.Wait()
	if len(seen) != 1 || !seen[tid] {
		t.Fatalf("work ran on threads %v, want only the setup thread %d", seen, tid)
	}
}
