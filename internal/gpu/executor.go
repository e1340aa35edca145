package gpu

import (
	"errors"
	"runtime"
	"sync"
)

// errClosed is returned for work sent to a closed Device.
var errClosed = errors.New("gpu device is closed")

// executor runs functions one at a time on a single goroutine locked to its
// OS thread, because a CUDA context is current on one thread only.
type executor struct {
	mu     sync.Mutex
	closed bool
	work   chan func()
	done   chan struct{}
}

// newExecutor starts the thread and runs setup on it; a failed setup stops
// the thread again and returns the error.
func newExecutor(setup func() error) (*executor, error) {
	e := &executor{work: make(chan func()), done: make(chan struct{})}
	go e.loop()
	if err := e.do(setup); err != nil {
		e.stop()
		return nil, err
	}
	return e, nil
}

func (e *executor) loop() {
	// Never unlocked: the thread carries the CUDA context until the
	// goroutine exits, and the runtime then retires the thread.
	runtime.LockOSThread()
	defer close(e.done)
	for fn := range e.work {
		fn()
	}
}

// do runs fn on the locked thread and returns its error.
func (e *executor) do(fn func() error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errClosed
	}
	res := make(chan error, 1)
	e.work <- func() { res <- fn() }
	return <-res
}

// close runs fin on the thread, then ends it.
func (e *executor) close(fin func() error) error {
	err := e.do(fin)
	e.stop()
	return err
}

func (e *executor) stop() {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.work)
	}
	e.mu.Unlock()
	<-e.done
}
