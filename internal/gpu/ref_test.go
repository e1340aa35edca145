package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refSgemmColMajor is a plain column-major SGEMM (BLAS semantics, element
// (i,j) at i + j*ld) standing in for cuBLAS.
func refSgemmColMajor(tA, tB bool, M, N, K int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for j := 0; j < N; j++ {
		for i := 0; i < M; i++ {
			var acc float64
			for l := 0; l < K; l++ {
				var av, bv float32
				if tA {
					av = a[l+i*lda]
				} else {
					av = a[i+l*lda]
				}
				if tB {
					bv = b[j+l*ldb]
				} else {
					bv = b[l+j*ldb]
				}
				acc += float64(av) * float64(bv)
			}
			v := alpha * float32(acc)
			if beta != 0 {
				v += beta * c[i+j*ldc]
			}
			c[i+j*ldc] = v
		}
	}
}

// refSgemmRowMajor is the row-major contract of kernels.Sgemm, written
// independently of the mapping.
func refSgemmRowMajor(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var acc float64
			for l := 0; l < k; l++ {
				var av, bv float32
				if tA {
					av = a[l*lda+i]
				} else {
					av = a[i*lda+l]
				}
				if tB {
					bv = b[j*ldb+l]
				} else {
					bv = b[l*ldb+j]
				}
				acc += float64(av) * float64(bv)
			}
			v := alpha * float32(acc)
			if beta != 0 {
				v += beta * c[i*ldc+j]
			}
			c[i*ldc+j] = v
		}
	}
}

// sgemmViaColMajor runs a row-major SGEMM through colMajor and the
// column-major reference, as Device.gemm does with cuBLAS.
func sgemmViaColMajor(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	call := colMajor(tA, tB, m, n, k, lda, ldb, ldc)
	first, second := a, b
	if call.FirstIsB {
		first, second = b, a
	}
	refSgemmColMajor(call.TransA, call.TransB, call.M, call.N, call.K, alpha, first, call.LDA, second, call.LDB, beta, c, call.LDC)
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.Abs(g-w) > tol*(1+math.Abs(w)) {
			t.Fatalf("%s[%d] = %v, want %v (tolerance %g)", what, i, g, w, tol)
		}
	}
}

// Naive direct references for the conv and pool operations.

func refConv(p Conv, x, w, b []float32, relu bool) []float32 {
	oh, ow := p.outH(), p.outW()
	y := make([]float32, p.N*p.O*oh*ow)
	for n := 0; n < p.N; n++ {
		for o := 0; o < p.O; o++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var acc float64
					for c := 0; c < p.C; c++ {
						for kh := 0; kh < p.KH; kh++ {
							for kw := 0; kw < p.KW; kw++ {
								iy, ix := oy*p.Stride-p.Pad+kh, ox*p.Stride-p.Pad+kw
								if iy < 0 || iy >= p.H || ix < 0 || ix >= p.W {
									continue
								}
								acc += float64(x[((n*p.C+c)*p.H+iy)*p.W+ix]) * float64(w[((o*p.C+c)*p.KH+kh)*p.KW+kw])
							}
						}
					}
					v := float32(acc)
					if b != nil {
						v += b[o]
					}
					if relu && v < 0 {
						v = 0
					}
					y[((n*p.O+o)*oh+oy)*ow+ox] = v
				}
			}
		}
	}
	return y
}

// refConvGrads returns dx and dw of sum(y*dy) for y = conv(x, w).
func refConvGrads(p Conv, x, w, dy []float32) (dx, dw []float32) {
	oh, ow := p.outH(), p.outW()
	dx64 := make([]float64, len(x))
	dw64 := make([]float64, len(w))
	for n := 0; n < p.N; n++ {
		for o := 0; o < p.O; o++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					g := float64(dy[((n*p.O+o)*oh+oy)*ow+ox])
					for c := 0; c < p.C; c++ {
						for kh := 0; kh < p.KH; kh++ {
							for kw := 0; kw < p.KW; kw++ {
								iy, ix := oy*p.Stride-p.Pad+kh, ox*p.Stride-p.Pad+kw
								if iy < 0 || iy >= p.H || ix < 0 || ix >= p.W {
									continue
								}
								xi := ((n*p.C+c)*p.H+iy)*p.W + ix
								wi := ((o*p.C+c)*p.KH+kh)*p.KW + kw
								dx64[xi] += g * float64(w[wi])
								dw64[wi] += g * float64(x[xi])
							}
						}
					}
				}
			}
		}
	}
	dx, dw = make([]float32, len(x)), make([]float32, len(w))
	for i, v := range dx64 {
		dx[i] = float32(v)
	}
	for i, v := range dw64 {
		dw[i] = float32(v)
	}
	return dx, dw
}

func refPool(p Pool, x []float32) ([]float32, []int32) {
	oh, ow := p.outH(), p.outW()
	y := make([]float32, p.outLen())
	am := make([]int32, p.outLen())
	for pl := 0; pl < p.N*p.C; pl++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				bi := oy*p.Size*p.W + ox*p.Size
				best := x[pl*p.H*p.W+bi]
				for ky := 0; ky < p.Size; ky++ {
					for kx := 0; kx < p.Size; kx++ {
						i := (oy*p.Size+ky)*p.W + ox*p.Size + kx
						if v := x[pl*p.H*p.W+i]; v > best {
							best, bi = v, i
						}
					}
				}
				y[(pl*oh+oy)*ow+ox] = best
				am[(pl*oh+oy)*ow+ox] = int32(bi)
			}
		}
	}
	return y, am
}

func refPoolBackward(p Pool, am []int32, dy []float32) []float32 {
	dx := make([]float32, p.inLen())
	plane, out := p.H*p.W, p.outH()*p.outW()
	for i, g := range dy {
		dx[(i/out)*plane+int(am[i])] += g
	}
	return dx
}

// convCases cover padding, stride, 1x1 (the direct path) and odd sizes.
var convCases = []Conv{
	{N: 2, C: 3, H: 5, W: 6, O: 4, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{N: 3, C: 2, H: 7, W: 5, O: 3, KH: 3, KW: 2, Stride: 2, Pad: 1},
	{N: 2, C: 4, H: 4, W: 4, O: 5, KH: 1, KW: 1, Stride: 1, Pad: 0},
	{N: 1, C: 1, H: 6, W: 6, O: 2, KH: 5, KW: 5, Stride: 1, Pad: 2},
	{N: 2, C: 2, H: 5, W: 5, O: 2, KH: 2, KW: 2, Stride: 3, Pad: 0},
}

func (p Conv) String() string {
	return fmt.Sprintf("x(%d,%d,%d,%d)w(%d,%d,%d)s%dp%d", p.N, p.C, p.H, p.W, p.O, p.KH, p.KW, p.Stride, p.Pad)
}
