//go:build linux || darwin || freebsd

package kernels

import (
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/ebitengine/purego"
)

// CBLAS enum values (cblas.h).
const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

var (
	openblasOnce sync.Once
	openblasGemm sgemmFunc
	openblasErr  error
)

// loadOpenBLAS opens libopenblas.so.0 with purego (no cgo), pins it to one
// thread (we parallelise across the batch ourselves; OpenBLAS's spinning
// threads would fight Go's scheduler) and returns its cblas_sgemm.
func loadOpenBLAS() (sgemmFunc, error) {
	openblasOnce.Do(func() {
		openblasGemm, openblasErr = openOpenBLAS()
	})
	return openblasGemm, openblasErr
}

func openOpenBLAS() (f sgemmFunc, err error) {
	if runtime.GOOS == "darwin" {
		return nil, fmt.Errorf("openblas: not looked for on darwin")
	}
	// Read by OpenBLAS's constructor: keeps it from starting a thread pool.
	if _, ok := os.LookupEnv("OPENBLAS_NUM_THREADS"); !ok {
		_ = os.Setenv("OPENBLAS_NUM_THREADS", "1")
	}
	var lib uintptr
	for _, name := range []string{"libopenblas.so.0", "libopenblas.so"} {
		if lib, err = purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("loading libopenblas.so.0 (install libopenblas0 for the fast path): %w", err)
	}
	// RegisterLibFunc panics on a missing symbol; turn that into an error.
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("libopenblas.so.0 lacks a symbol: %v", r)
		}
	}()
	var setThreads func(n int32)
	purego.RegisterLibFunc(&setThreads, lib, "openblas_set_num_threads")
	setThreads(1)

	var cblasSgemm func(order, transA, transB, m, n, k int32, alpha float32, a *float32, lda int32, b *float32, ldb int32, beta float32, c *float32, ldc int32)
	purego.RegisterLibFunc(&cblasSgemm, lib, "cblas_sgemm")

	return func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		ta, tb := int32(cblasNoTrans), int32(cblasNoTrans)
		if transA {
			ta = cblasTrans
		}
		if transB {
			tb = cblasTrans
		}
		var pa, pb *float32
		if len(a) > 0 {
			pa = &a[0]
		}
		if len(b) > 0 {
			pb = &b[0]
		}
		cblasSgemm(cblasRowMajor, ta, tb, int32(m), int32(n), int32(k), alpha, pa, int32(lda), pb, int32(ldb), beta, &c[0], int32(ldc))
		runtime.KeepAlive(a)
		runtime.KeepAlive(b)
		runtime.KeepAlive(c)
	}, nil
}
