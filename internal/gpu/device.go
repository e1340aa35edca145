package gpu

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"unsafe"
)

// Info describes the GPU a Device runs on.
type Info struct {
	Name          string
	Index         int    // CUDA device ordinal
	Count         int    // CUDA devices visible
	MemoryBytes   uint64 // total device memory
	DriverVersion int    // as cuDriverGetVersion reports it, e.g. 12040
	CCMajor       int    // compute capability
	CCMinor       int
}

// Driver formats DriverVersion as "12.4".
func (i Info) Driver() string {
	return fmt.Sprintf("%d.%d", i.DriverVersion/1000, i.DriverVersion%1000/10)
}

// String is a one-line summary for logs.
func (i Info) String() string {
	return fmt.Sprintf("%s (cuda device %d of %d, %.1f GiB, compute %d.%d, driver API %s)",
		i.Name, i.Index, i.Count, float64(i.MemoryBytes)/(1<<30), i.CCMajor, i.CCMinor, i.Driver())
}

// ErrNoDevice is wrapped by Probe and Open when the driver loads but reports
// no CUDA device.
var ErrNoDevice = errors.New("no CUDA device found")

type options struct {
	cuda, cublas string
	ordinal      int
}

// Option changes how Probe and Open look for a GPU.
type Option func(*options)

// WithLibraries names the driver and cuBLAS libraries to load instead of
// libcuda.so.1 and libcublas.so.12 (a path or a soname).
func WithLibraries(cuda, cublas string) Option {
	return func(o *options) { o.cuda, o.cublas = cuda, cublas }
}

// WithOrdinal picks the CUDA device (default 0).
func WithOrdinal(n int) Option {
	return func(o *options) { o.ordinal = n }
}

func resolve(opts []Option) options {
	o := options{cuda: LibCUDA, cublas: LibCUBLAS}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Probe loads the driver and cuBLAS and describes the selected device
// without creating a context. The error says which step failed: a library
// that does not load (named), cuInit, or no device.
func Probe(opts ...Option) (Info, error) {
	o := resolve(opts)
	d, err := loadDriver(o.cuda)
	if err != nil {
		return Info{}, err
	}
	if _, err := loadCUBLAS(o.cublas); err != nil {
		return Info{}, err
	}
	return describe(d, o.ordinal)
}

// describe runs cuInit and reads the device's properties. The driver API's
// device queries need no context, so any thread will do.
func describe(d *cuDriver, ordinal int) (Info, error) {
	if err := d.check("cuInit", d.init(0)); err != nil {
		var ce *cuError
		if errors.As(err, &ce) && ce.code == 100 { // CUDA_ERROR_NO_DEVICE
			return Info{}, fmt.Errorf("%w (%v): is the NVIDIA container runtime Docker's default, and NVIDIA_VISIBLE_DEVICES set?", ErrNoDevice, err)
		}
		return Info{}, fmt.Errorf("initialising the CUDA driver: %w", err)
	}
	var count, ver int32
	if err := d.check("cuDeviceGetCount", d.deviceGetCount(&count)); err != nil {
		return Info{}, err
	}
	if count == 0 {
		return Info{}, fmt.Errorf("%w: the driver loaded but reports 0 devices", ErrNoDevice)
	}
	if ordinal < 0 || ordinal >= int(count) {
		return Info{}, fmt.Errorf("cuda device %d does not exist: %d visible", ordinal, count)
	}
	var dev int32
	if err := d.check("cuDeviceGet", d.deviceGet(&dev, int32(ordinal))); err != nil {
		return Info{}, err
	}
	name := make([]byte, 256)
	if err := d.check("cuDeviceGetName", d.deviceGetName(&name[0], int32(len(name)), dev)); err != nil {
		return Info{}, err
	}
	var mem uint64
	if err := d.check("cuDeviceTotalMem", d.deviceTotalMem(&mem, dev)); err != nil {
		return Info{}, err
	}
	var major, minor int32
	if err := d.check("cuDeviceGetAttribute", d.deviceGetAttribute(&major, attrComputeMajor, dev)); err != nil {
		return Info{}, err
	}
	if err := d.check("cuDeviceGetAttribute", d.deviceGetAttribute(&minor, attrComputeMinor, dev)); err != nil {
		return Info{}, err
	}
	if err := d.check("cuDriverGetVersion", d.driverGetVersion(&ver)); err != nil {
		return Info{}, err
	}
	return Info{
		Name: cString(&name[0]), Index: ordinal, Count: int(count), MemoryBytes: mem,
		DriverVersion: int(ver), CCMajor: int(major), CCMinor: int(minor),
	}, nil
}

// Device is an open GPU: a context on the executor's thread, a cuBLAS handle,
// the loaded PTX module and device buffers reused between calls. Its methods
// are safe for concurrent use; calls run one at a time.
type Device struct {
	info Info
	drv  *cuDriver
	blas *cublasLib
	exec *executor

	// Owned by the executor thread.
	dev    int32
	ctx    uintptr
	handle uintptr
	module uintptr
	funcs  [numKernels]uintptr
	slots  [numSlots]devBuf

	// sim, when set, runs operations instead of the GPU: tests use a PTX
	// simulator to check the operations' logic on machines without one.
	sim prims
}

// prims are the device primitives the operations are written in; *Device
// implements them on the executor thread.
type prims interface {
	buf(s slot, bytes uint64) (uint64, error)
	put(s slot, host []float32) (uint64, error)
	putInt32(s slot, host []int32) (uint64, error)
	get(host []float32, p uint64) error
	getInt32(host []int32, p uint64) error
	fill(p uint64, n int, v float32) error
	launch(k kernelID, total int, args ...uint64) error
	gemm(transA, transB bool, m, n, k int, alpha float32, a uint64, lda int, b uint64, ldb int, beta float32, c uint64, ldc int) error
}

// do runs fn on the executor thread with the device's primitives.
func (g *Device) do(fn func(prims) error) error {
	if g.sim != nil {
		return fn(g.sim)
	}
	return g.exec.do(func() error { return fn(g) })
}

// devBuf is one device allocation, grown on demand.
type devBuf struct {
	ptr   uint64
	bytes uint64
}

// Open probes the GPU, creates its context, cuBLAS handle and kernels, and
// logs the device name, memory and driver version.
func Open(log *slog.Logger, opts ...Option) (*Device, error) {
	o := resolve(opts)
	info, err := Probe(opts...)
	if err != nil {
		return nil, err
	}
	drv, _ := loadDriver(o.cuda)
	blas, _ := loadCUBLAS(o.cublas)
	g := &Device{info: info, drv: drv, blas: blas}
	g.exec, err = newExecutor(g.setup)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", info.Name, err)
	}
	if log != nil {
		log.Info("gpu device", "name", info.Name, "index", info.Index, "devices", info.Count,
			"memory_gib", fmt.Sprintf("%.1f", float64(info.MemoryBytes)/(1<<30)),
			"compute", fmt.Sprintf("%d.%d", info.CCMajor, info.CCMinor), "driver_api", info.Driver())
	}
	return g, nil
}

// Info describes the device.
func (g *Device) Info() Info { return g.info }

// setup runs on the executor thread: context, cuBLAS, PTX module.
func (g *Device) setup() error {
	d := g.drv
	if err := d.check("cuDeviceGet", d.deviceGet(&g.dev, int32(g.info.Index))); err != nil {
		return err
	}
	if err := d.check("cuDevicePrimaryCtxRetain", d.primaryCtxRetain(&g.ctx, g.dev)); err != nil {
		return err
	}
	if err := d.check("cuCtxSetCurrent", d.ctxSetCurrent(g.ctx)); err != nil {
		g.teardown()
		return err
	}
	if err := cublasCheck("cublasCreate", g.blas.create(&g.handle)); err != nil {
		g.teardown()
		return err
	}
	if err := cublasCheck("cublasSetMathMode", g.blas.setMathMode(g.handle, cublasDefaultMth)); err != nil {
		g.teardown()
		return err
	}
	image := cBytes(kernelsPTX)
	if err := d.check("cuModuleLoadData(kernels.ptx)", d.moduleLoadData(&g.module, &image[0])); err != nil {
		g.teardown()
		return err
	}
	runtime.KeepAlive(image)
	for k, spec := range launchTable {
		name := cBytes(spec.name)
		if err := d.check("cuModuleGetFunction("+spec.name+")", d.moduleGetFunction(&g.funcs[k], g.module, &name[0])); err != nil {
			g.teardown()
			return err
		}
	}
	return nil
}

// teardown frees what setup and the slots hold; it runs on the executor
// thread and returns the first error.
func (g *Device) teardown() error {
	d := g.drv
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	for i := range g.slots {
		if g.slots[i].ptr != 0 {
			keep(d.check("cuMemFree", d.memFree(g.slots[i].ptr)))
			g.slots[i] = devBuf{}
		}
	}
	if g.module != 0 {
		keep(d.check("cuModuleUnload", d.moduleUnload(g.module)))
		g.module = 0
	}
	if g.handle != 0 {
		keep(cublasCheck("cublasDestroy", g.blas.destroy(g.handle)))
		g.handle = 0
	}
	if g.ctx != 0 {
		keep(d.check("cuDevicePrimaryCtxRelease", d.primaryCtxRelease(g.dev)))
		g.ctx = 0
	}
	return first
}

// Close frees the device memory, module, cuBLAS handle and context, and
// stops the executor thread. Later calls return an error.
func (g *Device) Close() error {
	err := g.exec.close(g.teardown)
	if errors.Is(err, errClosed) {
		return nil
	}
	return err
}

// Slots of device memory: each operation puts its operands in fixed slots,
// so buffers are allocated once per shape growth, not per call.
type slot int

const (
	slotA slot = iota
	slotB
	slotC
	slotX
	slotW
	slotBias
	slotY
	slotCol
	slotArg
	slotOnes
	slotOnesN
	slotTmp
	numSlots
)

// buf returns slot s holding at least bytes, growing it (contents are lost).
func (g *Device) buf(s slot, bytes uint64) (uint64, error) {
	b := &g.slots[s]
	if bytes == 0 {
		bytes = 4
	}
	if b.bytes >= bytes {
		return b.ptr, nil
	}
	d := g.drv
	if b.ptr != 0 {
		if err := d.check("cuMemFree", d.memFree(b.ptr)); err != nil {
			return 0, err
		}
		*b = devBuf{}
	}
	var p uint64
	if err := d.check(fmt.Sprintf("cuMemAlloc(%d bytes)", bytes), d.memAlloc(&p, bytes)); err != nil {
		return 0, err
	}
	*b = devBuf{ptr: p, bytes: bytes}
	return p, nil
}

// put copies host float32s into slot s and returns the device pointer.
func (g *Device) put(s slot, host []float32) (uint64, error) {
	p, err := g.buf(s, uint64(len(host))*4)
	if err != nil || len(host) == 0 {
		return p, err
	}
	err = g.drv.check("cuMemcpyHtoD", g.drv.memcpyHtoD(p, unsafe.Pointer(&host[0]), uint64(len(host))*4))
	runtime.KeepAlive(host)
	return p, err
}

// get copies n float32s from device pointer p into host.
func (g *Device) get(host []float32, p uint64) error {
	if len(host) == 0 {
		return nil
	}
	err := g.drv.check("cuMemcpyDtoH", g.drv.memcpyDtoH(unsafe.Pointer(&host[0]), p, uint64(len(host))*4))
	runtime.KeepAlive(host)
	return err
}

// getInt32 copies int32s from device pointer p into host.
func (g *Device) getInt32(host []int32, p uint64) error {
	if len(host) == 0 {
		return nil
	}
	err := g.drv.check("cuMemcpyDtoH", g.drv.memcpyDtoH(unsafe.Pointer(&host[0]), p, uint64(len(host))*4))
	runtime.KeepAlive(host)
	return err
}

// putInt32 copies host int32s into slot s.
func (g *Device) putInt32(s slot, host []int32) (uint64, error) {
	p, err := g.buf(s, uint64(len(host))*4)
	if err != nil || len(host) == 0 {
		return p, err
	}
	err = g.drv.check("cuMemcpyHtoD", g.drv.memcpyHtoD(p, unsafe.Pointer(&host[0]), uint64(len(host))*4))
	runtime.KeepAlive(host)
	return p, err
}

// fill sets n float32s at p to v.
func (g *Device) fill(p uint64, n int, v float32) error {
	if n == 0 {
		return nil
	}
	return g.drv.check("cuMemsetD32", g.drv.memsetD32(p, *(*uint32)(unsafe.Pointer(&v)), uint64(n)))
}

// launch runs kernel k over total elements with args in launchTable order.
func (g *Device) launch(k kernelID, total int, args ...uint64) error {
	if total == 0 {
		return nil
	}
	if total > maxLaunch {
		return fmt.Errorf("kernel %s: %d elements exceed one launch", launchTable[k].name, total)
	}
	la, err := packArgs(k, args)
	if err != nil {
		return err
	}
	code := g.drv.launchKernel(g.funcs[k], grid(total), 1, 1, threadsPerBlock, 1, 1, 0, 0, unsafe.Pointer(&la.ptrs[0]), nil)
	runtime.KeepAlive(la)
	return g.drv.check("cuLaunchKernel("+launchTable[k].name+")", code)
}

// gemm runs a row-major SGEMM on device pointers (see colMajor).
func (g *Device) gemm(transA, transB bool, m, n, k int, alpha float32, a uint64, lda int, b uint64, ldb int, beta float32, c uint64, ldc int) error {
	if m == 0 || n == 0 {
		return nil
	}
	call := colMajor(transA, transB, m, n, k, lda, ldb, ldc)
	first, second := a, b
	if call.FirstIsB {
		first, second = b, a
	}
	op := func(t bool) int32 {
		if t {
			return cublasOpT
		}
		return cublasOpN
	}
	al, be := alpha, beta
	return cublasCheck("cublasSgemm", g.blas.sgemm(g.handle, op(call.TransA), op(call.TransB),
		int32(call.M), int32(call.N), int32(call.K), &al, first, int32(call.LDA), second, int32(call.LDB), &be, c, int32(call.LDC)))
}

// span is how many elements a rows x cols matrix with row stride ld covers.
func span(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major host matrices
// (the contract of kernels.Sgemm) with cuBLAS: it copies A, B and C in and C
// out. The caller has checked the sizes.
func (g *Device) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) error {
	if m == 0 || n == 0 {
		return nil
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	return g.do(func(g prims) error {
		pa, err := g.put(slotA, a[:span(ar, ac, lda)])
		if err != nil {
			return err
		}
		pb, err := g.put(slotB, b[:span(br, bc, ldb)])
		if err != nil {
			return err
		}
		// C goes in even when beta is 0: the copy back covers the gaps
		// between rows when ldc > n, which must keep their values.
		cs := c[:span(m, n, ldc)]
		pc, err := g.put(slotC, cs)
		if err != nil {
			return err
		}
		if err := g.gemm(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc); err != nil {
			return err
		}
		return g.get(cs, pc)
	})
}
