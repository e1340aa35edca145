package gpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// simPrims runs the device primitives on the PTX simulator and the
// column-major reference SGEMM, so the operations of ops.go (chunking,
// pointer offsets, the cuBLAS mapping, the kernels) are checked end to end
// without a GPU.
type simPrims struct {
	t       *testing.T
	mem     *simMem
	kernels map[string]*simKernel
	slots   [numSlots]devBuf
	gemms   int
}

func newSim(t *testing.T) *Device {
	t.Helper()
	ks, err := parsePTX(kernelsPTX)
	if err != nil {
		t.Fatalf("kernels.ptx: %v", err)
	}
	return &Device{sim: &simPrims{t: t, mem: &simMem{}, kernels: ks}}
}

func (s *simPrims) buf(sl slot, bytes uint64) (uint64, error) {
	if bytes == 0 {
		bytes = 4
	}
	if b := s.slots[sl]; b.bytes >= bytes {
		return b.ptr, nil
	}
	p := s.mem.alloc(int((bytes + 3) / 4))
	s.slots[sl] = devBuf{ptr: p, bytes: bytes}
	return p, nil
}

func (s *simPrims) put(sl slot, host []float32) (uint64, error) {
	p, err := s.buf(sl, uint64(len(host))*4)
	s.mem.putF(p, host)
	return p, err
}

func (s *simPrims) putInt32(sl slot, host []int32) (uint64, error) {
	p, err := s.buf(sl, uint64(len(host))*4)
	s.mem.putI(p, host)
	return p, err
}

func (s *simPrims) get(host []float32, p uint64) error {
	copy(host, s.mem.getF(p, len(host)))
	return nil
}

func (s *simPrims) getInt32(host []int32, p uint64) error {
	copy(host, s.mem.getI(p, len(host)))
	return nil
}

func (s *simPrims) fill(p uint64, n int, v float32) error {
	vs := make([]float32, n)
	for i := range vs {
		vs[i] = v
	}
	s.mem.putF(p, vs)
	return nil
}

func (s *simPrims) launch(k kernelID, total int, args ...uint64) error {
	if _, err := packArgs(k, args); err != nil {
		return err
	}
	sk := s.kernels[launchTable[k].name]
	if sk == nil {
		return fmt.Errorf("no PTX entry %s", launchTable[k].name)
	}
	return sk.launch(s.mem, int(grid(total)), threadsPerBlock, args)
}

func (s *simPrims) gemm(transA, transB bool, m, n, k int, alpha float32, a uint64, lda int, b uint64, ldb int, beta float32, c uint64, ldc int) error {
	s.gemms++
	call := colMajor(transA, transB, m, n, k, lda, ldb, ldc)
	first, second := a, b
	if call.FirstIsB {
		first, second = b, a
	}
	rest := func(p uint64) []float32 { return s.mem.getF(p, (len(s.mem.b)-int(p-simBase))/4) }
	cv := rest(c)
	refSgemmColMajor(call.TransA, call.TransB, call.M, call.N, call.K, alpha, rest(first), call.LDA, rest(second), call.LDB, beta, cv, call.LDC)
	s.mem.putF(c, cv)
	return nil
}

func TestPTXParsesAndIsConsistent(t *testing.T) {
	ks, err := parsePTX(kernelsPTX)
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range launchTable {
		if ks[spec.name] == nil {
			t.Errorf("simulator found no kernel %s", spec.name)
		}
	}
}

func TestSimConvMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, p := range convCases {
		t.Run(p.String(), func(t *testing.T) {
			g := newSim(t)
			x := randSlice(r, p.N*p.inLen())
			w := randSlice(r, p.O*p.colK())
			b := randSlice(r, p.O)
			for _, relu := range []bool{false, true} {
				y := make([]float32, p.N*p.O*p.plane())
				if err := g.ConvForward(p, x, w, b, y, relu); err != nil {
					t.Fatal(err)
				}
				closeTo(t, fmt.Sprintf("y relu=%v", relu), y, refConv(p, x, w, b, relu), 1e-5)
			}
			y := make([]float32, p.N*p.O*p.plane())
			if err := g.ConvForward(p, x, w, nil, y, false); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "y without bias", y, refConv(p, x, w, nil, false), 1e-5)

			dy := randSlice(r, len(y))
			wantDx, wantDw := refConvGrads(p, x, w, dy)
			dx := make([]float32, len(x))
			if err := g.ConvBackwardData(p, w, dy, dx); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "dx", dx, wantDx, 1e-5)
			dw := make([]float32, len(w))
			if err := g.ConvBackwardFilter(p, x, dy, dw); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "dw", dw, wantDw, 1e-5)

			db := make([]float32, p.O)
			if err := g.BiasGrad(p.N, p.O, p.plane(), dy, db); err != nil {
				t.Fatal(err)
			}
			wantDb := make([]float32, p.O)
			for i, v := range dy {
				wantDb[(i/p.plane())%p.O] += v
			}
			closeTo(t, "db", db, wantDb, 1e-5)
		})
	}
}

func TestSimReLUGradAndPool(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	g := newSim(t)
	y, dy := randSlice(r, 300), randSlice(r, 300)
	dx := make([]float32, 300)
	if err := g.ReLUGrad(y, dy, dx); err != nil {
		t.Fatal(err)
	}
	for i := range y {
		want := float32(0)
		if y[i] > 0 {
			want = dy[i]
		}
		if dx[i] != want {
			t.Fatalf("relu grad [%d] = %v, want %v", i, dx[i], want)
		}
	}
	for _, p := range []Pool{{N: 2, C: 3, H: 6, W: 8, Size: 2}, {N: 1, C: 2, H: 7, W: 5, Size: 3}, {N: 3, C: 1, H: 4, W: 4, Size: 1}} {
		x := randSlice(r, p.inLen())
		// Ties: the first in row-major order must win.
		x[1], x[p.W] = x[0], x[0]
		y := make([]float32, p.outLen())
		am := make([]int32, p.outLen())
		if err := g.MaxPoolForward(p, x, y, am); err != nil {
			t.Fatal(err)
		}
		wantY, wantAm := refPool(p, x)
		closeTo(t, "pool y", y, wantY, 0)
		for i := range am {
			if am[i] != wantAm[i] {
				t.Fatalf("%+v argmax[%d] = %d, want %d", p, i, am[i], wantAm[i])
			}
		}
		gy := randSlice(r, p.outLen())
		gx := make([]float32, p.inLen())
		for i := range gx {
			gx[i] = 99 // must be overwritten
		}
		if err := g.MaxPoolBackward(p, am, gy, gx); err != nil {
			t.Fatal(err)
		}
		closeTo(t, "pool dx", gx, refPoolBackward(p, am, gy), 0)
	}
}

// The host Sgemm keeps C's elements between rows (ldc > n) intact.
func TestSimSgemmKeepsGapsOfC(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	g := newSim(t)
	m, n, k, ldc := 3, 4, 5, 6
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	c := randSlice(r, m*ldc)
	want := append([]float32(nil), c...)
	refSgemmRowMajor(false, false, m, n, k, 1, a, k, b, n, 0, want, ldc)
	if err := g.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, ldc); err != nil {
		t.Fatal(err)
	}
	closeTo(t, "C", c, want, 1e-5)
}
