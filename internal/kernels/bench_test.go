package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkSgemm reports single-threaded GFLOP/s per backend: the number
// the batch-parallel kernels multiply by Threads().
func BenchmarkSgemm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	names := []string{BackendGo}
	if ok, _ := OpenBLASAvailable(); ok {
		names = append(names, BackendOpenBLAS)
	}
	for _, be := range names {
		for _, sz := range [][3]int{{256, 256, 256}, {512, 512, 512}, {64, 1024, 288}} {
			m, n, k := sz[0], sz[1], sz[2]
			b.Run(fmt.Sprintf("%s/%dx%dx%d", be, m, n, k), func(b *testing.B) {
				if err := UseBackend(be); err != nil {
					b.Fatal(err)
				}
				defer UseBackend("")
				a, bb, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := Sgemm(false, false, m, n, k, 1, a, k, bb, n, 0, c, n); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkConvKernels times forward + input gradient + weight gradient of
// CIFAR-sized layers on the default backend and Threads() workers.
func BenchmarkConvKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, p := range []ConvParams{
		{N: 64, C: 3, H: 32, W: 32, O: 32, KH: 3, KW: 3, Stride: 1, Pad: 1},
		{N: 64, C: 32, H: 16, W: 16, O: 64, KH: 3, KW: 3, Stride: 1, Pad: 1},
		{N: 64, C: 64, H: 8, W: 8, O: 128, KH: 3, KW: 3, Stride: 1, Pad: 1},
	} {
		b.Run(fmt.Sprintf("%s/N%d_C%d_%dx%d_O%d", Backend(), p.N, p.C, p.H, p.W, p.O), func(b *testing.B) {
			var ws Workspace
			x, w, bias := randSlice(r, p.N*p.inSize()), randSlice(r, p.O*p.colK()), randSlice(r, p.O)
			y, dy := make([]float32, p.N*p.outSize()), randSlice(r, p.N*p.outSize())
			dx, dw, db := make([]float32, len(x)), make([]float32, len(w)), make([]float32, p.O)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := firstErr(
					ConvForward(p, x, w, bias, y, true, &ws),
					ConvBackwardData(p, w, dy, dx, &ws),
					ConvBackwardFilter(p, x, dy, dw, db, &ws),
				); err != nil {
					b.Fatal(err)
				}
			}
			flop := 3 * 2 * float64(p.N*p.O*p.outP()*p.colK())
			b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
