package gpu

import (
	"math/rand/v2"
	"testing"
)

// openOrSkip opens the real GPU, or skips: these tests need an NVIDIA GPU
// with its driver and cuBLAS (bench/gpu.sh runs them on one).
func openOrSkip(t *testing.T) *Device {
	t.Helper()
	g, err := Open(nil)
	if err != nil {
		t.Skipf("no usable GPU, skipping the GPU parity test (run bench/gpu.sh on an NVIDIA machine): %v", err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return g
}

// GPU parity: the real device against the same references the simulator
// meets. cuBLAS sums in its own order, hence a tolerance.
func TestGPUMatchesReference(t *testing.T) {
	g := openOrSkip(t)
	t.Logf("gpu: %v", g.Info())
	r := rand.New(rand.NewPCG(9, 10))
	m, n, k := 33, 47, 29
	a, b, c := randSlice(r, k*m), randSlice(r, n*k), randSlice(r, m*n)
	want := append([]float32(nil), c...)
	refSgemmRowMajor(true, true, m, n, k, 0.5, a, m, b, k, 2, want, n)
	if err := g.Sgemm(true, true, m, n, k, 0.5, a, m, b, k, 2, c, n); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "sgemm", c, want, 1e-4)

	for _, p := range convCases {
		t.Run(p.String(), func(t *testing.T) {
			x, w, bias := randSlice(r, p.N*p.inLen()), randSlice(r, p.O*p.colK()), randSlice(r, p.O)
			y := make([]float32, p.N*p.O*p.plane())
			if err := g.ConvForward(p, x, w, bias, y, true); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "y", y, refConv(p, x, w, bias, true), 1e-4)
			dy := randSlice(r, len(y))
			wantDx, wantDw := refConvGrads(p, x, w, dy)
			dx, dw := make([]float32, len(x)), make([]float32, len(w))
			if err := g.ConvBackwardData(p, w, dy, dx); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "dx", dx, wantDx, 1e-4)
			if err := g.ConvBackwardFilter(p, x, dy, dw); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "dw", dw, wantDw, 1e-4)
			// Determinism: a second run is bit-for-bit the same.
			dw2 := make([]float32, len(w))
			if err := g.ConvBackwardFilter(p, x, dy, dw2); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "dw rerun", dw2, dw, 0)
		})
	}
	p := Pool{N: 4, C: 8, H: 32, W: 32, Size: 2}
	x := randSlice(r, p.inLen())
	y, am := make([]float32, p.outLen()), make([]int32, p.outLen())
	if err := g.MaxPoolForward(p, x, y, am); err != nil {
		t.Fatal(err)
	}
	wantY, wantAm := refPool(p, x)
	closeTo(t, "pool", y, wantY, 0)
	for i := range am {
		if am[i] != wantAm[i] {
			t.Fatalf("argmax[%d] = %d, want %d", i, am[i], wantAm[i])
		}
	}
	dy, dx := randSlice(r, p.outLen()), make([]float32, p.inLen())
	if err := g.MaxPoolBackward(p, am, dy, dx); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "pool dx", dx, refPoolBackward(p, am, dy), 0)
}

// BenchmarkGPUConvForward times a CIFAR-sized conv (64x64x3x3 on 32x32,
// batch 64) with its copies; it skips without a GPU.
func BenchmarkGPUConvForward(b *testing.B) {
	g, err := Open(nil)
	if err != nil {
		b.Skipf("no usable GPU: %v", err)
	}
	defer g.Close()
	p := Conv{N: 64, C: 64, H: 32, W: 32, O: 64, KH: 3, KW: 3, Stride: 1, Pad: 1}
	r := rand.New(rand.NewPCG(1, 1))
	x, w, bias := randSlice(r, p.N*p.inLen()), randSlice(r, p.O*p.colK()), randSlice(r, p.O)
	y := make([]float32, p.N*p.O*p.plane())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := g.ConvForward(p, x, w, bias, y, true); err != nil {
			b.Fatal(err)
		}
	}
	flops := 2 * float64(p.N*p.O*p.plane()*p.colK())
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
