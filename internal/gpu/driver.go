package gpu

import (
	"fmt"
	"sync"
	"unsafe"
)

// Default library names: the driver API comes with the host's NVIDIA driver
// (the NVIDIA container runtime mounts it), cuBLAS with the CUDA runtime.
const (
	LibCUDA   = "libcuda.so.1"
	LibCUBLAS = "libcublas.so.12"
)

// cuDriver holds the CUDA driver API entry points used here.
type cuDriver struct {
	init               func(flags uint32) int32
	driverGetVersion   func(v *int32) int32
	deviceGetCount     func(n *int32) int32
	deviceGet          func(dev *int32, ordinal int32) int32
	deviceGetName      func(name *byte, n int32, dev int32) int32
	deviceTotalMem     func(bytes *uint64, dev int32) int32
	deviceGetAttribute func(v *int32, attrib int32, dev int32) int32
	primaryCtxRetain   func(ctx *uintptr, dev int32) int32
	primaryCtxRelease  func(dev int32) int32
	ctxSetCurrent      func(ctx uintptr) int32
	ctxSynchronize     func() int32
	memAlloc           func(p *uint64, bytes uint64) int32
	memFree            func(p uint64) int32
	memcpyHtoD         func(dst uint64, src unsafe.Pointer, bytes uint64) int32
	memcpyDtoH         func(dst unsafe.Pointer, src uint64, bytes uint64) int32
	memsetD32          func(dst uint64, v uint32, n uint64) int32
	moduleLoadData     func(mod *uintptr, image *byte) int32
	moduleUnload       func(mod uintptr) int32
	moduleGetFunction  func(fn *uintptr, mod uintptr, name *byte) int32
	launchKernel       func(f uintptr, gx, gy, gz, bx, by, bz, shared uint32, stream uintptr, params unsafe.Pointer, extra unsafe.Pointer) int32
	getErrorName       func(code int32, s **byte) int32
}

// cuBLAS enum values (cublas_api.h).
const (
	cublasOpN        = 0
	cublasOpT        = 1
	cublasDefaultMth = 0 // plain FP32: no TF32 tensor-op rounding
)

// cuDevice attribute numbers (cuda.h).
const (
	attrComputeMajor = 75
	attrComputeMinor = 76
)

// cublasLib holds the cuBLAS entry points used here.
type cublasLib struct {
	create      func(h *uintptr) int32
	destroy     func(h uintptr) int32
	setMathMode func(h uintptr, mode int32) int32
	getVersion  func(h uintptr, v *int32) int32
	sgemm       func(h uintptr, ta, tb int32, m, n, k int32, alpha *float32, a uint64, lda int32, b uint64, ldb int32, beta *float32, c uint64, ldc int32) int32
}

// libraries caches one load per library name: dlopen is not free, and a
// failed load should give the same error every time.
var (
	libMu      sync.Mutex
	drivers    = map[string]driverResult{}
	cublasLibs = map[string]cublasResult{}
)

type driverResult struct {
	d   *cuDriver
	err error
}

type cublasResult struct {
	c   *cublasLib
	err error
}

func loadDriver(name string) (*cuDriver, error) {
	libMu.Lock()
	defer libMu.Unlock()
	if r, ok := drivers[name]; ok {
		return r.d, r.err
	}
	d, err := openDriver(name)
	drivers[name] = driverResult{d, err}
	return d, err
}

func loadCUBLAS(name string) (*cublasLib, error) {
	libMu.Lock()
	defer libMu.Unlock()
	if r, ok := cublasLibs[name]; ok {
		return r.c, r.err
	}
	c, err := openCUBLAS(name)
	cublasLibs[name] = cublasResult{c, err}
	return c, err
}

// cuError is a failed CUDA driver call.
type cuError struct {
	call string
	code int32
	name string
}

func (e *cuError) Error() string {
	if e.name != "" {
		return fmt.Sprintf("%s: %s (%d)", e.call, e.name, e.code)
	}
	return fmt.Sprintf("%s: CUDA error %d", e.call, e.code)
}

// check turns a CUresult into an error naming the call.
func (d *cuDriver) check(call string, code int32) error {
	if code == 0 {
		return nil
	}
	e := &cuError{call: call, code: code}
	if d != nil && d.getErrorName != nil {
		var s *byte
		if d.getErrorName(code, &s) == 0 {
			e.name = cString(s)
		}
	}
	return e
}

// cublasCheck turns a cublasStatus_t into an error naming the call.
func cublasCheck(call string, code int32) error {
	if code == 0 {
		return nil
	}
	names := map[int32]string{
		1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
		7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH",
		11: "CUBLAS_STATUS_MAPPING_ERROR", 13: "CUBLAS_STATUS_EXECUTION_FAILED",
		14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
	}
	if n, ok := names[code]; ok {
		return fmt.Errorf("%s: %s (%d)", call, n, code)
	}
	return fmt.Errorf("%s: cuBLAS status %d", call, code)
}

// cString copies a NUL-terminated C string owned by the driver.
func cString(p *byte) string {
	if p == nil {
		return ""
	}
	var b []byte
	for ptr := unsafe.Pointer(p); ; ptr = unsafe.Add(ptr, 1) {
		c := *(*byte)(ptr)
		if c == 0 || len(b) > 4096 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// cBytes returns s as a NUL-terminated byte slice for a C call.
func cBytes(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}
