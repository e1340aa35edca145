package kernels

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/gpu"
)

// withOpener swaps how SelectDevice opens a GPU for one test.
func withOpener(t *testing.T, open func(*slog.Logger) (gpuDevice, error)) {
	t.Helper()
	prev := openGPU
	openGPU = open
	t.Cleanup(func() {
		openGPU = prev
		if err := ReleaseDevice(); err != nil {
			t.Errorf("release: %v", err)
		}
	})
}

func missingLibs(log *slog.Logger) (gpuDevice, error) {
	return gpu.Open(log, gpu.WithLibraries("libcuda-missing-for-test.so.1", gpu.LibCUBLAS))
}

func TestSelectDeviceFallsBackWithoutGPU(t *testing.T) {
	withOpener(t, missingLibs)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	got, err := SelectDevice(DeviceAuto, log)
	if err != nil || got != DeviceCPU {
		t.Fatalf("auto without a GPU = %q, %v; want cpu", got, err)
	}
	if !strings.Contains(logs.String(), "training on the CPU") || !strings.Contains(logs.String(), "libcuda-missing-for-test.so.1") {
		t.Errorf("auto fallback log does not say why: %s", logs.String())
	}
	if Backend() == BackendCUBLAS || ActiveDevice() != DeviceCPU {
		t.Errorf("after fallback Backend = %q, ActiveDevice = %q", Backend(), ActiveDevice())
	}

	_, err = SelectDevice(DeviceGPU, log)
	if err == nil || !strings.Contains(err.Error(), "libcuda-missing-for-test.so.1") || !strings.Contains(err.Error(), `"device" is gpu`) {
		t.Fatalf("gpu without a GPU: err = %v, want one naming the option and the missing library", err)
	}
	if got, err := SelectDevice(DeviceCPU, log); err != nil || got != DeviceCPU {
		t.Fatalf("cpu = %q, %v", got, err)
	}
	if _, err := SelectDevice("tpu", log); err == nil || !strings.Contains(err.Error(), `"tpu"`) {
		t.Fatalf("unknown device: err = %v", err)
	}
}

// fakeGPU records which operations reached the "device" and computes them
// with the CPU kernels, so routing can be checked without a GPU.
type fakeGPU struct {
	calls  []string
	closed bool
	fail   error
}

func (f *fakeGPU) Info() gpu.Info { return gpu.Info{Name: "Fake GPU", Count: 1, DriverVersion: 12040} }
func (f *fakeGPU) Close() error   { f.closed = true; return nil }
func (f *fakeGPU) Sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) error {
	f.calls = append(f.calls, "sgemm")
	if f.fail != nil {
		return f.fail
	}
	sgemmGo(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	return nil
}
func (f *fakeGPU) ConvForward(p gpu.Conv, x, w, b, y []float32, relu bool) error {
	f.calls = append(f.calls, "conv")
	return nil
}
func (f *fakeGPU) ConvBackwardData(gpu.Conv, []float32, []float32, []float32) error {
	f.calls = append(f.calls, "convdata")
	return nil
}
func (f *fakeGPU) ConvBackwardFilter(gpu.Conv, []float32, []float32, []float32) error {
	f.calls = append(f.calls, "convfilter")
	return nil
}
func (f *fakeGPU) BiasGrad(int, int, int, []float32, []float32) error {
	f.calls = append(f.calls, "biasgrad")
	return nil
}
func (f *fakeGPU) ReLUGrad([]float32, []float32, []float32) error {
	f.calls = append(f.calls, "relugrad")
	return nil
}
func (f *fakeGPU) MaxPoolForward(gpu.Pool, []float32, []float32, []int32) error {
	f.calls = append(f.calls, "pool")
	return nil
}
func (f *fakeGPU) MaxPoolBackward(gpu.Pool, []int32, []float32, []float32) error {
	f.calls = append(f.calls, "poolgrad")
	return nil
}

func TestSelectDeviceRoutesToGPU(t *testing.T) {
	fake := &fakeGPU{}
	withOpener(t, func(*slog.Logger) (gpuDevice, error) { return fake, nil })
	var logs bytes.Buffer
	got, err := SelectDevice(DeviceGPU, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil || got != DeviceGPU {
		t.Fatalf("gpu = %q, %v", got, err)
	}
	if !strings.Contains(logs.String(), "Fake GPU") {
		t.Errorf("log does not name the device: %s", logs.String())
	}
	if Backend() != BackendCUBLAS || ActiveDevice() != DeviceGPU {
		t.Fatalf("Backend = %q, ActiveDevice = %q; want cublas, gpu", Backend(), ActiveDevice())
	}
	c := make([]float32, 4)
	if err := Sgemm(false, false, 2, 2, 1, 1, []float32{1, 2}, 1, []float32{3, 4}, 2, 0, c, 2); err != nil {
		t.Fatal(err)
	}
	if c[0] != 3 || c[3] != 8 {
		t.Errorf("sgemm through the device = %v", c)
	}
	p := ConvParams{N: 1, C: 1, H: 3, W: 3, O: 1, KH: 1, KW: 1, Stride: 1, Pad: 0}
	var ws Workspace
	buf := func(n int) []float32 { return make([]float32, n) }
	mustOK := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustOK(DeviceConvForward(p, buf(9), buf(1), buf(1), buf(9), true, &ws))
	mustOK(DeviceConvBackwardData(p, buf(1), buf(9), buf(9), &ws))
	mustOK(DeviceConvBackwardFilter(p, buf(9), buf(9), buf(1), buf(1), &ws))
	mustOK(DeviceReLUGrad(buf(3), buf(3), buf(3)))
	pp := PoolParams{N: 1, C: 1, H: 2, W: 2, Size: 2}
	mustOK(DeviceMaxPoolForward(pp, buf(4), buf(1), make([]int32, 1)))
	mustOK(DeviceMaxPoolBackward(pp, make([]int32, 1), buf(1), buf(4)))
	want := "sgemm conv convdata convfilter biasgrad relugrad pool poolgrad"
	if got := strings.Join(fake.calls, " "); got != want {
		t.Errorf("device calls %q, want %q", got, want)
	}
	// Bad sizes are caught before the device.
	if err := DeviceConvForward(p, buf(8), buf(1), nil, buf(9), false, &ws); err == nil {
		t.Error("a short input reached the device")
	}

	// A failing cuBLAS call is redone on the CPU and reported.
	fake.fail = errors.New("CUBLAS_STATUS_EXECUTION_FAILED")
	clear(c)
	if err := Sgemm(false, false, 2, 2, 1, 1, []float32{1, 2}, 1, []float32{3, 4}, 2, 0, c, 2); err != nil {
		t.Fatal(err)
	}
	if c[3] != 8 || DeviceErr() == nil {
		t.Errorf("after a cuBLAS failure c = %v, DeviceErr = %v", c, DeviceErr())
	}

	if err := ReleaseDevice(); err != nil {
		t.Fatal(err)
	}
	if !fake.closed || Backend() == BackendCUBLAS || ActiveDevice() != DeviceCPU {
		t.Errorf("after release: closed=%v Backend=%q ActiveDevice=%q", fake.closed, Backend(), ActiveDevice())
	}
}

// Without a GPU the Device* functions are the CPU kernels.
func TestDeviceFunctionsOnCPU(t *testing.T) {
	withOpener(t, missingLibs)
	r := rand.New(rand.NewPCG(1, 2))
	p := ConvParams{N: 2, C: 3, H: 6, W: 5, O: 4, KH: 3, KW: 3, Stride: 1, Pad: 1}
	x, w, b := randVec(r, p.N*p.inSize()), randVec(r, p.O*p.colK()), randVec(r, p.O)
	var ws Workspace
	want, got := make([]float32, p.N*p.outSize()), make([]float32, p.N*p.outSize())
	if err := ConvForward(p, x, w, b, want, true, &ws); err != nil {
		t.Fatal(err)
	}
	if err := DeviceConvForward(p, x, w, b, got, true, &ws); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("y[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func randVec(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// GPU parity: the whole ops on the real GPU against the CPU kernels. Skips
// without a GPU (bench/gpu.sh runs it on one).
func TestGPUParityWithCPUKernels(t *testing.T) {
	got, err := SelectDevice(DeviceAuto, nil)
	if err != nil || got != DeviceGPU {
		t.Skipf("no usable GPU, skipping GPU parity with the CPU kernels (run bench/gpu.sh on an NVIDIA machine); SelectDevice(auto) = %q, %v", got, err)
	}
	t.Cleanup(func() { _ = ReleaseDevice() })
	r := rand.New(rand.NewPCG(3, 4))
	near := func(what string, a, b []float32) {
		t.Helper()
		for i := range a {
			if d := math.Abs(float64(a[i] - b[i])); d > 1e-4*(1+math.Abs(float64(b[i]))) {
				t.Fatalf("%s[%d]: gpu %v, cpu %v", what, i, a[i], b[i])
			}
		}
	}
	for _, p := range []ConvParams{
		{N: 8, C: 3, H: 32, W: 32, O: 16, KH: 3, KW: 3, Stride: 1, Pad: 1},
		{N: 4, C: 16, H: 9, W: 7, O: 8, KH: 3, KW: 3, Stride: 2, Pad: 1},
		{N: 4, C: 8, H: 8, W: 8, O: 8, KH: 1, KW: 1, Stride: 1, Pad: 0},
	} {
		x, w, b := randVec(r, p.N*p.inSize()), randVec(r, p.O*p.colK()), randVec(r, p.O)
		dy := randVec(r, p.N*p.outSize())
		var ws Workspace
		yc, yg := make([]float32, len(dy)), make([]float32, len(dy))
		if err := ConvForward(p, x, w, b, yc, true, &ws); err != nil {
			t.Fatal(err)
		}
		if err := DeviceConvForward(p, x, w, b, yg, true, &ws); err != nil {
			t.Fatal(err)
		}
		near("y", yg, yc)
		dxc, dxg := make([]float32, len(x)), make([]float32, len(x))
		if err := ConvBackwardData(p, w, dy, dxc, &ws); err != nil {
			t.Fatal(err)
		}
		if err := DeviceConvBackwardData(p, w, dy, dxg, &ws); err != nil {
			t.Fatal(err)
		}
		near("dx", dxg, dxc)
		dwc, dwg, dbc, dbg := make([]float32, len(w)), make([]float32, len(w)), make([]float32, p.O), make([]float32, p.O)
		if err := ConvBackwardFilter(p, x, dy, dwc, dbc, &ws); err != nil {
			t.Fatal(err)
		}
		if err := DeviceConvBackwardFilter(p, x, dy, dwg, dbg, &ws); err != nil {
			t.Fatal(err)
		}
		near("dw", dwg, dwc)
		near("db", dbg, dbc)
	}
}
