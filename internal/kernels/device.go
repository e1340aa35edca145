package kernels

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/model-release/model-release/internal/gpu"
)

// Devices accepted by SelectDevice (the "device" option).
const (
	DeviceAuto = "auto"
	DeviceCPU  = "cpu"
	DeviceGPU  = "gpu"
)

// BackendCUBLAS is what Backend reports while a GPU is selected: every
// Sgemm, and the GEMMs inside the CPU conv kernels, go to cuBLAS.
const BackendCUBLAS = "cublas"

// gpuDevice is what this package needs of an open GPU (a *gpu.Device).
type gpuDevice interface {
	Info() gpu.Info
	Close() error
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) error
	ConvForward(p gpu.Conv, x, w, b, y []float32, relu bool) error
	ConvBackwardData(p gpu.Conv, w, dy, dx []float32) error
	ConvBackwardFilter(p gpu.Conv, x, dy, dw []float32) error
	BiasGrad(n, o, plane int, dy, db []float32) error
	ReLUGrad(y, dy, dx []float32) error
	MaxPoolForward(p gpu.Pool, x, y []float32, argmax []int32) error
	MaxPoolBackward(p gpu.Pool, argmax []int32, dy, dx []float32) error
}

// openGPU opens the GPU; tests replace it.
var openGPU = func(log *slog.Logger) (gpuDevice, error) { return gpu.Open(log) }

var (
	devMu     sync.Mutex
	activeGPU gpuDevice
	gemmErr   error // first cuBLAS failure of the sgemm backend
)

// SelectDevice chooses where the kernels run, for the "device" option:
//   - "cpu": the CPU fast path (OpenBLAS or pure Go);
//   - "gpu": the GPU, or an error saying why there is none (never a silent
//     CPU run);
//   - "auto": the GPU when the driver and cuBLAS load and a device is
//     found, else the CPU, logging why.
//
// It returns "cpu" or "gpu". With a GPU, Backend reports "cublas": Sgemm and
// the GEMMs of the conv kernels run on cuBLAS, and the Device* functions run
// whole ops on the GPU. Call ReleaseDevice when training ends.
func SelectDevice(mode string, log *slog.Logger) (string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch mode {
	case DeviceCPU:
		if err := ReleaseDevice(); err != nil {
			return "", err
		}
		log.Info("device", "device", DeviceCPU, "reason", "requested", "sgemm", Backend())
		return DeviceCPU, nil
	case DeviceGPU, DeviceAuto, "":
	default:
		return "", fmt.Errorf("option \"device\": unknown device %q: use auto, cpu or gpu", mode)
	}
	devMu.Lock()
	if activeGPU != nil {
		devMu.Unlock()
		return DeviceGPU, nil
	}
	devMu.Unlock()
	d, err := openGPU(log)
	if err != nil {
		if mode == DeviceGPU {
			return "", fmt.Errorf("option \"device\" is gpu but no usable GPU was found (use --device auto or cpu to train on the CPU): %w", err)
		}
		log.Info("no usable GPU; training on the CPU", "reason", err.Error(), "sgemm", Backend())
		return DeviceCPU, nil
	}
	devMu.Lock()
	activeGPU, gemmErr = d, nil
	devMu.Unlock()
	installGPUGemm(d, log)
	log.Info("device", "device", DeviceGPU, "gpu", d.Info().String())
	return DeviceGPU, nil
}

// installGPUGemm makes cuBLAS the sgemm backend. sgemmFunc cannot fail, so
// a cuBLAS error falls back to the CPU for that call, is logged once, and is
// kept for DeviceErr.
func installGPUGemm(d gpuDevice, log *slog.Logger) {
	pickBackend()
	cpu := backendGemm
	f := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		err := d.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		if err == nil {
			return
		}
		devMu.Lock()
		first := gemmErr == nil
		if first {
			gemmErr = err
		}
		devMu.Unlock()
		if first {
			log.Warn("cuBLAS sgemm failed; this and later failing calls run on the CPU", "err", err.Error())
		}
		cpu(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
	forceMu.Lock()
	forced, forcedNam = f, BackendCUBLAS
	forceMu.Unlock()
}

// ReleaseDevice closes the GPU, if one is selected, and returns the kernels
// to the CPU backend.
func ReleaseDevice() error {
	devMu.Lock()
	d := activeGPU
	activeGPU = nil
	devMu.Unlock()
	if d == nil {
		return nil
	}
	forceMu.Lock()
	if forcedNam == BackendCUBLAS {
		forced, forcedNam = nil, ""
	}
	forceMu.Unlock()
	if err := d.Close(); err != nil {
		return fmt.Errorf("closing gpu: %w", err)
	}
	return nil
}

// ActiveDevice is "gpu" while a GPU is selected, else "cpu".
func ActiveDevice() string {
	if currentGPU() != nil {
		return DeviceGPU
	}
	return DeviceCPU
}

// DeviceErr is the first cuBLAS failure of the sgemm backend since the GPU
// was selected (those calls were redone on the CPU), or nil.
func DeviceErr() error {
	devMu.Lock()
	defer devMu.Unlock()
	return gemmErr
}

func currentGPU() gpuDevice {
	devMu.Lock()
	defer devMu.Unlock()
	return activeGPU
}

func (p ConvParams) gpu() gpu.Conv {
	return gpu.Conv{N: p.N, C: p.C, H: p.H, W: p.W, O: p.O, KH: p.KH, KW: p.KW, Stride: p.Stride, Pad: p.Pad}
}

func (p PoolParams) gpu() gpu.Pool {
	return gpu.Pool{N: p.N, C: p.C, H: p.H, W: p.W, Size: p.Size}
}

// checkConv repeats ConvForward's checks for the GPU path.
func checkConv(p ConvParams, names []string, got, want []int) error {
	if err := p.Validate(); err != nil {
		return err
	}
	for i := range names {
		if err := checkLen(names[i], got[i], want[i]); err != nil {
			return err
		}
	}
	return nil
}

// DeviceConvForward is ConvForward on the selected device: the whole op on
// the GPU when one is selected, else the CPU kernel.
func DeviceConvForward(p ConvParams, x, w, b, y []float32, relu bool, ws *Workspace) error {
	d := currentGPU()
	if d == nil {
		return ConvForward(p, x, w, b, y, relu, ws)
	}
	if err := checkConv(p, []string{"input", "weights", "output"}, []int{len(x), len(w), len(y)},
		[]int{p.N * p.inSize(), p.O * p.colK(), p.N * p.outSize()}); err != nil {
		return err
	}
	if b != nil {
		if err := checkLen("bias", len(b), p.O); err != nil {
			return err
		}
	}
	return d.ConvForward(p.gpu(), x, w, b, y, relu)
}

// DeviceConvBackwardData is ConvBackwardData on the selected device.
func DeviceConvBackwardData(p ConvParams, w, dy, dx []float32, ws *Workspace) error {
	d := currentGPU()
	if d == nil {
		return ConvBackwardData(p, w, dy, dx, ws)
	}
	if err := checkConv(p, []string{"weights", "output gradient", "input gradient"}, []int{len(w), len(dy), len(dx)},
		[]int{p.O * p.colK(), p.N * p.outSize(), p.N * p.inSize()}); err != nil {
		return err
	}
	return d.ConvBackwardData(p.gpu(), w, dy, dx)
}

// DeviceConvBackwardFilter is ConvBackwardFilter on the selected device.
func DeviceConvBackwardFilter(p ConvParams, x, dy, dw, db []float32, ws *Workspace) error {
	d := currentGPU()
	if d == nil {
		return ConvBackwardFilter(p, x, dy, dw, db, ws)
	}
	if err := checkConv(p, []string{"input", "output gradient", "weight gradient"}, []int{len(x), len(dy), len(dw)},
		[]int{p.N * p.inSize(), p.N * p.outSize(), p.O * p.colK()}); err != nil {
		return err
	}
	if db != nil {
		if err := checkLen("bias gradient", len(db), p.O); err != nil {
			return err
		}
	}
	if err := d.ConvBackwardFilter(p.gpu(), x, dy, dw); err != nil {
		return err
	}
	if db == nil {
		return nil
	}
	return d.BiasGrad(p.N, p.O, p.outP(), dy, db)
}

// DeviceBiasGrad is BiasGrad on the selected device.
func DeviceBiasGrad(n, o, plane int, dy, db []float32) error {
	d := currentGPU()
	if d == nil {
		return BiasGrad(n, o, plane, dy, db)
	}
	return d.BiasGrad(n, o, plane, dy, db)
}

// DeviceReLUGrad is ReLUGrad on the selected device.
func DeviceReLUGrad(y, dy, dx []float32) error {
	d := currentGPU()
	if d == nil {
		if len(dy) != len(y) || len(dx) != len(y) {
			return fmt.Errorf("relu gradient: lengths %d, %d, %d differ", len(y), len(dy), len(dx))
		}
		ReLUGrad(y, dy, dx)
		return nil
	}
	return d.ReLUGrad(y, dy, dx)
}

// DeviceMaxPoolForward is MaxPoolForward on the selected device.
func DeviceMaxPoolForward(p PoolParams, x, y []float32, argmax []int32) error {
	d := currentGPU()
	if d == nil {
		return MaxPoolForward(p, x, y, argmax)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	return d.MaxPoolForward(p.gpu(), x, y, argmax)
}

// DeviceMaxPoolBackward is MaxPoolBackward on the selected device.
func DeviceMaxPoolBackward(p PoolParams, argmax []int32, dy, dx []float32) error {
	d := currentGPU()
	if d == nil {
		return MaxPoolBackward(p, argmax, dy, dx)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	return d.MaxPoolBackward(p.gpu(), argmax, dy, dx)
}
