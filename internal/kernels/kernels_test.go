package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// backends lists the SGEMM backends to test here: always pure Go, and
// OpenBLAS when the library is installed.
func backends(t *testing.T) []string {
	t.Helper()
	names := []string{BackendGo}
	if ok, err := OpenBLASAvailable(); ok {
		names = append(names, BackendOpenBLAS)
	} else {
		t.Logf("openblas not tested: %v", err)
	}
	return names
}

// withBackend runs fn with the named backend forced, restoring the default.
func withBackend(t *testing.T, name string, fn func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		if err := UseBackend(name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = UseBackend("") })
		fn(t)
	})
}

func naiveGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var acc float64
			for l := 0; l < k; l++ {
				var av, bv float32
				if transA {
					av = a[l*lda+i]
				} else {
					av = a[i*lda+l]
				}
				if transB {
					bv = b[j*ldb+l]
				} else {
					bv = b[l*ldb+j]
				}
				acc += float64(av) * float64(bv)
			}
			out[i*n+j] = float64(alpha)*acc + float64(beta)*float64(c[i*ldc+j])
		}
	}
	return out
}

func TestSgemmMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 9, 33}, {64, 70, 27}, {5, 1024, 3}, {0, 4, 3}, {4, 3, 0}}
	for _, be := range backends(t) {
		withBackend(t, be, func(t *testing.T) {
			if got := Backend(); got != be {
				t.Fatalf("Backend() = %q, want %q", got, be)
			}
			for _, sz := range sizes {
				m, n, k := sz[0], sz[1], sz[2]
				for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
					// Padded leading dimensions catch stride mistakes.
					lda, ldb, ldc := k+2, n+1, n+3
					ar, br := m, k
					if tr[0] {
						lda, ar = m+2, k
					}
					if tr[1] {
						ldb, br = k+1, n
					}
					a := randSlice(r, max(ar*lda, 1))
					b := randSlice(r, max(br*ldb, 1))
					c := randSlice(r, max(m*ldc, 1))
					want := naiveGemm(tr[0], tr[1], m, n, k, 0.5, a, lda, b, ldb, 0.25, c, ldc)
					if err := Sgemm(tr[0], tr[1], m, n, k, 0.5, a, lda, b, ldb, 0.25, c, ldc); err != nil {
						t.Fatal(err)
					}
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							if d := math.Abs(float64(c[i*ldc+j]) - want[i*n+j]); d > 1e-4*(1+math.Sqrt(float64(k))) {
								t.Fatalf("%v m=%d n=%d k=%d trans=%v: c[%d,%d]=%g, want %g", be, m, n, k, tr, i, j, c[i*ldc+j], want[i*n+j])
							}
						}
					}
				}
			}
		})
	}
}

func TestSgemmRejectsShortSlices(t *testing.T) {
	err := Sgemm(false, false, 4, 4, 4, 1, make([]float32, 15), 4, make([]float32, 16), 4, 0, make([]float32, 16), 4)
	if err == nil {
		t.Fatal("want an error for a 15-element 4x4 matrix")
	}
	if err := UseBackend("cuda"); err == nil {
		t.Fatal("want an error for an unknown backend")
	}
}

// naiveConv is a direct float64 convolution: the reference for all three passes.
func naiveConv(p ConvParams, x, w, b []float32) []float64 {
	oh, ow := p.OutH(), p.OutW()
	y := make([]float64, p.N*p.O*oh*ow)
	for n := 0; n < p.N; n++ {
		for o := 0; o < p.O; o++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var acc float64
					if b != nil {
						acc = float64(b[o])
					}
					for c := 0; c < p.C; c++ {
						for kh := 0; kh < p.KH; kh++ {
							for kw := 0; kw < p.KW; kw++ {
								ih, iw := i*p.Stride-p.Pad+kh, j*p.Stride-p.Pad+kw
								if ih < 0 || ih >= p.H || iw < 0 || iw >= p.W {
									continue
								}
								acc += float64(x[((n*p.C+c)*p.H+ih)*p.W+iw]) * float64(w[((o*p.C+c)*p.KH+kh)*p.KW+kw])
							}
						}
					}
					y[((n*p.O+o)*oh+i)*ow+j] = acc
				}
			}
		}
	}
	return y
}

// naiveConvGrads returns dx, dw, db of sum(y*dy) by the same direct loops.
func naiveConvGrads(p ConvParams, x, w, dy []float32) (dx, dw, db []float64) {
	oh, ow := p.OutH(), p.OutW()
	dx = make([]float64, len(x))
	dw = make([]float64, len(w))
	db = make([]float64, p.O)
	for n := 0; n < p.N; n++ {
		for o := 0; o < p.O; o++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					g := float64(dy[((n*p.O+o)*oh+i)*ow+j])
					db[o] += g
					for c := 0; c < p.C; c++ {
						for kh := 0; kh < p.KH; kh++ {
							for kw := 0; kw < p.KW; kw++ {
								ih, iw := i*p.Stride-p.Pad+kh, j*p.Stride-p.Pad+kw
								if ih < 0 || ih >= p.H || iw < 0 || iw >= p.W {
									continue
								}
								xi := ((n*p.C+c)*p.H+ih)*p.W + iw
								wi := ((o*p.C+c)*p.KH+kh)*p.KW + kw
								dx[xi] += g * float64(w[wi])
								dw[wi] += g * float64(x[xi])
							}
						}
					}
				}
			}
		}
	}
	return dx, dw, db
}

func assertClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*(1+math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %g, want %g (diff %g)", what, i, got[i], want[i], d)
		}
	}
}

var convCases = []ConvParams{
	{N: 2, C: 3, H: 5, W: 7, O: 4, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{N: 3, C: 2, H: 5, W: 7, O: 3, KH: 3, KW: 3, Stride: 2, Pad: 1},
	{N: 1, C: 4, H: 6, W: 6, O: 5, KH: 3, KW: 3, Stride: 1, Pad: 0},
	{N: 5, C: 3, H: 4, W: 5, O: 2, KH: 1, KW: 1, Stride: 1, Pad: 0},
	{N: 2, C: 3, H: 7, W: 5, O: 2, KH: 1, KW: 1, Stride: 2, Pad: 0},
	{N: 2, C: 2, H: 8, W: 9, O: 3, KH: 5, KW: 3, Stride: 2, Pad: 2},
	{N: 4, C: 1, H: 3, W: 3, O: 1, KH: 3, KW: 3, Stride: 3, Pad: 1},
	// "Same" convolutions (im2colSame), incl. taps two columns off the edge
	// and a plane smaller than the kernel.
	{N: 2, C: 2, H: 6, W: 5, O: 3, KH: 5, KW: 5, Stride: 1, Pad: 2},
	{N: 3, C: 2, H: 2, W: 3, O: 2, KH: 5, KW: 5, Stride: 1, Pad: 2},
	{N: 2, C: 3, H: 1, W: 1, O: 2, KH: 3, KW: 3, Stride: 1, Pad: 1},
	// Transposed input gradient with padding 0 (becomes padding 2).
	{N: 2, C: 2, H: 5, W: 4, O: 3, KH: 3, KW: 3, Stride: 1, Pad: 0},
}

func TestConvMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, be := range backends(t) {
		withBackend(t, be, func(t *testing.T) {
			for _, threads := range []int{1, 3} {
				SetThreads(threads)
				t.Cleanup(func() { SetThreads(0) })
				for _, p := range convCases {
					t.Run(fmt.Sprintf("%+v/threads=%d", p, threads), func(t *testing.T) {
						var ws Workspace
						x := randSlice(r, p.N*p.inSize())
						w := randSlice(r, p.O*p.colK())
						b := randSlice(r, p.O)
						dy := randSlice(r, p.N*p.outSize())

						y := randSlice(r, p.N*p.outSize()) // garbage must be overwritten
						if err := ConvForward(p, x, w, b, y, false, &ws); err != nil {
							t.Fatal(err)
						}
						want := naiveConv(p, x, w, b)
						assertClose(t, "y", y, want, 1e-4)

						if err := ConvForward(p, x, w, nil, y, true, &ws); err != nil {
							t.Fatal(err)
						}
						want = naiveConv(p, x, w, nil)
						for i := range want {
							want[i] = math.Max(want[i], 0)
						}
						assertClose(t, "relu(y)", y, want, 1e-4)

						wdx, wdw, wdb := naiveConvGrads(p, x, w, dy)
						dx := randSlice(r, len(x))
						if err := ConvBackwardData(p, w, dy, dx, &ws); err != nil {
							t.Fatal(err)
						}
						assertClose(t, "dx", dx, wdx, 1e-4)

						dw, db := randSlice(r, len(w)), randSlice(r, p.O)
						if err := ConvBackwardFilter(p, x, dy, dw, db, &ws); err != nil {
							t.Fatal(err)
						}
						assertClose(t, "dw", dw, wdw, 1e-4)
						assertClose(t, "db", db, wdb, 1e-4)

						db2 := randSlice(r, p.O)
						if err := BiasGrad(p.N, p.O, p.outP(), dy, db2); err != nil {
							t.Fatal(err)
						}
						assertClose(t, "BiasGrad", db2, wdb, 1e-4)
					})
				}
			}
		})
	}
}

func TestConvRejectsBadShapes(t *testing.T) {
	var ws Workspace
	p := ConvParams{N: 1, C: 1, H: 2, W: 2, O: 1, KH: 3, KW: 3, Stride: 1}
	if err := ConvForward(p, make([]float32, 4), make([]float32, 9), nil, make([]float32, 1), false, &ws); err == nil {
		t.Fatal("want an error for a 3x3 kernel on an unpadded 2x2 input")
	}
	p.Pad = 1
	if err := ConvForward(p, make([]float32, 3), make([]float32, 9), nil, make([]float32, 4), false, &ws); err == nil {
		t.Fatal("want an error for a short input")
	}
}

func TestMaxPool(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, p := range []PoolParams{{N: 2, C: 3, H: 5, W: 7, Size: 2}, {N: 1, C: 2, H: 6, W: 6, Size: 3}, {N: 3, C: 1, H: 4, W: 4, Size: 1}} {
		x := randSlice(r, p.N*p.C*p.H*p.W)
		y := make([]float32, p.OutLen())
		arg := make([]int32, p.OutLen())
		if err := MaxPoolForward(p, x, y, arg); err != nil {
			t.Fatal(err)
		}
		dy := randSlice(r, p.OutLen())
		dx := randSlice(r, len(x))
		if err := MaxPoolBackward(p, arg, dy, dx); err != nil {
			t.Fatal(err)
		}
		wantDx := make([]float64, len(x))
		oh, ow := p.OutH(), p.OutW()
		for pl := 0; pl < p.N*p.C; pl++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					best, bi := math.Inf(-1), -1
					for a := 0; a < p.Size; a++ {
						for b := 0; b < p.Size; b++ {
							idx := pl*p.H*p.W + (i*p.Size+a)*p.W + j*p.Size + b
							if float64(x[idx]) > best {
								best, bi = float64(x[idx]), idx
							}
						}
					}
					o := (pl*oh+i)*ow + j
					if float64(y[o]) != best {
						t.Fatalf("%+v: y[%d] = %g, want %g", p, o, y[o], best)
					}
					wantDx[bi] += float64(dy[o])
				}
			}
		}
		assertClose(t, "dx", dx, wantDx, 0)
	}
	if err := MaxPoolForward(PoolParams{N: 1, C: 1, H: 1, W: 4, Size: 2}, nil, nil, nil); err == nil {
		t.Fatal("want an error for a window taller than the input")
	}
}

// A training step makes thousands of SGEMM calls; the OpenBLAS binding must
// not allocate on each.
func TestOpenBLASSgemmDoesNotAllocate(t *testing.T) {
	if ok, err := OpenBLASAvailable(); !ok {
		t.Skipf("openblas not available: %v", err)
	}
	if err := UseBackend(BackendOpenBLAS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = UseBackend("") })
	a, b, c := []float32{1, 2, 3, 4, 5, 6}, []float32{1, 0, 0, 1, 1, 1}, make([]float32, 4)
	allocs := testing.AllocsPerRun(100, func() {
		if err := Sgemm(NoTrans, NoTrans, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2); err != nil {
			t.Fatal(err)
		}
	})
	// (2x3)(3x2): rows [1 2 3] and [4 5 6] times [[1 0] [0 1] [1 1]].
	want := []float32{4, 5, 10, 11}
	for i := range want {
		if c[i] != want[i] {
			t.Fatalf("c = %v, want %v", c, want)
		}
	}
	if allocs > 0 {
		t.Errorf("Sgemm allocated %.1f times per call, want 0", allocs)
	}
}
