//go:build linux || darwin || freebsd

package kernels

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"

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

	if sym, err := purego.Dlsym(lib, "sgemm_"); err == nil {
		return fortranSgemm(sym), nil
	}
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

// gemmArgs holds the by-reference scalars of Fortran sgemm_. They live in
// pooled heap objects so a call passes stable pointers and allocates
// nothing; purego's reflect-based RegisterLibFunc wrapper allocated a few
// hundred bytes per call, which over thousands of per-image GEMMs was most
// of a training step's garbage.
type gemmArgs struct {
	transA, transB         byte
	m, n, k, lda, ldb, ldc int32
	alpha, beta            float32
	// args is SyscallN's argument list, kept here so the variadic slice
	// does not escape to a new heap object on every call.
	args [13]uintptr
}

var gemmArgsPool = sync.Pool{New: func() any { return new(gemmArgs) }}

// fortranSgemm calls OpenBLAS's Fortran sgemm_ (every argument a pointer,
// so purego.SyscallN passes them without float registers). Fortran is
// column-major: the row-major C = op(A) op(B) is the column-major
// C^T = op(B)^T op(A)^T, so A and B swap places.
func fortranSgemm(fn uintptr) sgemmFunc {
	return func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		if m == 0 || n == 0 || len(c) == 0 {
			return // an empty C: nothing to compute (and no &c[0] to take)
		}
		g := gemmArgsPool.Get().(*gemmArgs)
		g.transA, g.transB = 'N', 'N'
		if transA {
			g.transA = 'T'
		}
		if transB {
			g.transB = 'T'
		}
		g.m, g.n, g.k = int32(m), int32(n), int32(k)
		g.lda, g.ldb, g.ldc = int32(lda), int32(ldb), int32(ldc)
		g.alpha, g.beta = alpha, beta
		var pa, pb *float32
		if len(a) > 0 {
			pa = &a[0]
		}
		if len(b) > 0 {
			pb = &b[0]
		}
		g.args = [13]uintptr{
			uintptr(unsafe.Pointer(&g.transB)), uintptr(unsafe.Pointer(&g.transA)),
			uintptr(unsafe.Pointer(&g.n)), uintptr(unsafe.Pointer(&g.m)), uintptr(unsafe.Pointer(&g.k)),
			uintptr(unsafe.Pointer(&g.alpha)),
			uintptr(unsafe.Pointer(pb)), uintptr(unsafe.Pointer(&g.ldb)),
			uintptr(unsafe.Pointer(pa)), uintptr(unsafe.Pointer(&g.lda)),
			uintptr(unsafe.Pointer(&g.beta)),
			uintptr(unsafe.Pointer(&c[0])), uintptr(unsafe.Pointer(&g.ldc)),
		}
		purego.SyscallN(fn, g.args[:]...)
		runtime.KeepAlive(a)
		runtime.KeepAlive(b)
		runtime.KeepAlive(c)
		gemmArgsPool.Put(g)
	}
}
