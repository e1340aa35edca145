package kernels

import (
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
)

// Transpose flags for Sgemm, row-major like the rest of this package.
const (
	NoTrans = false
	Trans   = true
)

// sgemmFunc computes C = alpha*op(A)*op(B) + beta*C on row-major matrices,
// single-threaded; op(A) is m x k and op(B) is k x n.
type sgemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// Backend names reported by Backend.
const (
	BackendOpenBLAS = "openblas"
	BackendGo       = "go"
)

var (
	backendOnce sync.Once
	backendName string
	backendGemm sgemmFunc
	backendErr  error // why OpenBLAS was not used, when it was not

	threads   atomic.Int64 // 0 means runtime.GOMAXPROCS(0)
	logOnce   sync.Once
	forceMu   sync.Mutex
	forced    sgemmFunc
	forcedNam string
)

// pickBackend loads OpenBLAS once and falls back to pure Go when the library
// is missing, so one CGO_ENABLED=0 binary runs everywhere.
func pickBackend() {
	backendOnce.Do(func() {
		if f, err := loadOpenBLAS(); err == nil {
			backendName, backendGemm = BackendOpenBLAS, f
			return
		} else {
			backendErr = err
		}
		backendName, backendGemm = BackendGo, sgemmGo
	})
}

// Backend names the SGEMM implementation in use: "openblas" or "go".
func Backend() string {
	forceMu.Lock()
	name := forcedNam
	forceMu.Unlock()
	if name != "" {
		return name
	}
	pickBackend()
	return backendName
}

// LogBackend logs the SGEMM backend and thread count once per process, so a
// training log says which path produced its speed.
func LogBackend(log *slog.Logger) {
	if log == nil {
		return
	}
	logOnce.Do(func() {
		pickBackend()
		attrs := []any{"backend", Backend(), "threads", Threads()}
		if backendErr != nil {
			attrs = append(attrs, "openblas", backendErr.Error())
		}
		log.Info("sgemm backend", attrs...)
	})
}

// UseBackend forces one backend ("openblas", "go") or, with "", returns to
// the automatic choice. It exists for tests and benchmarks that compare both.
func UseBackend(name string) error {
	forceMu.Lock()
	defer forceMu.Unlock()
	switch name {
	case "":
		forced, forcedNam = nil, ""
	case BackendGo:
		forced, forcedNam = sgemmGo, BackendGo
	case BackendOpenBLAS:
		f, err := loadOpenBLAS()
		if err != nil {
			return fmt.Errorf("selecting sgemm backend %q: %w", name, err)
		}
		forced, forcedNam = f, BackendOpenBLAS
	default:
		return fmt.Errorf("unknown sgemm backend %q: use %q or %q", name, BackendOpenBLAS, BackendGo)
	}
	return nil
}

// OpenBLASAvailable reports whether libopenblas.so.0 could be loaded, and why not.
func OpenBLASAvailable() (bool, error) {
	_, err := loadOpenBLAS()
	return err == nil, err
}

func gemm() sgemmFunc {
	forceMu.Lock()
	f := forced
	forceMu.Unlock()
	if f != nil {
		return f
	}
	pickBackend()
	return backendGemm
}

// SetThreads sets how many goroutines each kernel splits its batch across;
// n <= 0 returns to runtime.GOMAXPROCS(0).
func SetThreads(n int) {
	if n < 0 {
		n = 0
	}
	threads.Store(int64(n))
}

// ThreadSetting is what SetThreads last set (0: follow GOMAXPROCS).
func ThreadSetting() int { return int(threads.Load()) }

// Threads is the number of worker goroutines a kernel uses.
func Threads() int {
	if n := int(threads.Load()); n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices on the
// calling goroutine (single-threaded). op(A) is m x k, op(B) is k x n, C is
// m x n; lda, ldb, ldc are row strides. It checks the slices are long enough
// instead of letting a backend read out of bounds.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) error {
	if err := checkGemm(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc); err != nil {
		return err
	}
	if m == 0 || n == 0 {
		return nil
	}
	gemm()(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	return nil
}

func checkGemm(transA, transB bool, m, n, k, la, lda, lb, ldb, lc, ldc int) error {
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("sgemm: negative size m=%d n=%d k=%d", m, n, k)
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if err := checkMat("a", ar, ac, la, lda); err != nil {
		return err
	}
	if err := checkMat("b", br, bc, lb, ldb); err != nil {
		return err
	}
	return checkMat("c", m, n, lc, ldc)
}

func checkMat(name string, rows, cols, length, ld int) error {
	if ld < max(1, cols) {
		return fmt.Errorf("sgemm: ld%s=%d is smaller than its %d columns", name, ld, cols)
	}
	if rows == 0 || cols == 0 {
		return nil
	}
	if need := (rows-1)*ld + cols; length < need {
		return fmt.Errorf("sgemm: matrix %s has %d elements, needs %d for %dx%d with stride %d", name, length, need, rows, cols, ld)
	}
	return nil
}
