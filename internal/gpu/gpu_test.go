package gpu

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestColMajorMatchesRowMajor(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			for trial := 0; trial < 5; trial++ {
				m, n, k := 1+r.IntN(7), 1+r.IntN(7), 1+r.IntN(7)
				ar, ac := m, k
				if tA {
					ar, ac = k, m
				}
				br, bc := k, n
				if tB {
					br, bc = n, k
				}
				// Strides wider than the rows, as in sub-matrices.
				lda, ldb, ldc := ac+r.IntN(3), bc+r.IntN(3), n+r.IntN(3)
				a, b := randSlice(r, ar*lda), randSlice(r, br*ldb)
				c0 := randSlice(r, m*ldc)
				alpha, beta := float32(0.5+r.Float64()), float32(r.IntN(2))*0.75
				want := append([]float32(nil), c0...)
				refSgemmRowMajor(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
				got := append([]float32(nil), c0...)
				sgemmViaColMajor(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc)
				closeTo(t, "C", got, want, 1e-5)
			}
		}
	}
}

func TestColMajorSwapsOperands(t *testing.T) {
	got := colMajor(true, false, 2, 3, 4, 2, 3, 5)
	want := gemmCall{TransA: false, TransB: true, M: 3, N: 2, K: 4, LDA: 3, LDB: 2, LDC: 5, FirstIsB: true}
	if got != want {
		t.Fatalf("colMajor = %+v, want %+v", got, want)
	}
}

func TestLaunchTableMatchesPTX(t *testing.T) {
	entry := regexp.MustCompile(`(?s)\.entry\s+(\w+)\s*\((.*?)\)`)
	param := regexp.MustCompile(`\.param\s+\.(u64|u32)\s+\w+`)
	found := map[string]string{}
	for _, m := range entry.FindAllStringSubmatch(kernelsPTX, -1) {
		var types strings.Builder
		for _, p := range param.FindAllStringSubmatch(m[2], -1) {
			if p[1] == "u64" {
				types.WriteByte('p')
			} else {
				types.WriteByte('u')
			}
		}
		found[m[1]] = types.String()
	}
	if len(found) != int(numKernels) {
		t.Errorf("kernels.ptx has %d entries %v, the launch table %d", len(found), found, numKernels)
	}
	for k, spec := range launchTable {
		got, ok := found[spec.name]
		if !ok {
			t.Errorf("launch table kernel %d %q has no .entry in kernels.ptx", k, spec.name)
			continue
		}
		if got != spec.params {
			t.Errorf("kernel %s: PTX parameters %q (p=.u64, u=.u32), launch table %q", spec.name, got, spec.params)
		}
	}
}

func TestPackArgsChecksArguments(t *testing.T) {
	if _, err := packArgs(kReLUGrad, []uint64{1, 2, 3}); err == nil || !strings.Contains(err.Error(), "want 4") {
		t.Errorf("3 args for mr_relu_grad: err = %v, want a count error", err)
	}
	if _, err := packArgs(kReLUGrad, []uint64{1, 2, 3, 1 << 33}); err == nil || !strings.Contains(err.Error(), "32 bits") {
		t.Errorf("oversized .u32: err = %v, want a range error", err)
	}
	la, err := packArgs(kReLUGrad, []uint64{0x1000, 0x2000, 0x3000, 77})
	if err != nil {
		t.Fatal(err)
	}
	if got := *(*uint32)(la.ptrs[3]); got != 77 {
		t.Errorf("the .u32 slot reads %d, want 77", got)
	}
	if got := *(*uint64)(la.ptrs[1]); got != 0x2000 {
		t.Errorf("the pointer slot reads %#x, want 0x2000", got)
	}
}

func TestProbeNamesMissingLibrary(t *testing.T) {
	_, err := Probe(WithLibraries("libcuda-missing-for-test.so.1", LibCUBLAS))
	if err == nil || !strings.Contains(err.Error(), "libcuda-missing-for-test.so.1") {
		t.Fatalf("Probe with a missing driver: err = %v, want one naming the library", err)
	}
	if _, err := Open(nil, WithLibraries("libcuda-missing-for-test.so.1", LibCUBLAS)); err == nil {
		t.Fatal("Open with a missing driver succeeded")
	}
	// With the real driver present (a GPU machine), a missing cuBLAS is named.
	if _, derr := loadDriver(LibCUDA); derr == nil {
		_, err := Probe(WithLibraries(LibCUDA, "libcublas-missing-for-test.so.12"))
		if err == nil || !strings.Contains(err.Error(), "libcublas-missing-for-test.so.12") {
			t.Fatalf("Probe with a missing cuBLAS: err = %v, want one naming the library", err)
		}
	}
}

func TestCUErrorNamesCall(t *testing.T) {
	var d *cuDriver
	err := d.check("cuMemAlloc", 2)
	var ce *cuError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "cuMemAlloc") {
		t.Fatalf("check = %v, want a cuError naming the call", err)
	}
	if d.check("cuInit", 0) != nil {
		t.Fatal("CUDA_SUCCESS is an error")
	}
}

func TestExecutorRunsInOrderAndCloses(t *testing.T) {
	var order []int
	e, err := newExecutor(func() error { order = append(order, 0); return nil })
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := e.do(func() error { order = append(order, i); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	want := errors.New("boom")
	if err := e.do(func() error { return want }); !errors.Is(err, want) {
		t.Fatalf("do returned %v, want the function's error", err)
	}
	if err := e.close(func() error { order = append(order, 9); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := e.do(func() error { return nil }); !errors.Is(err, errClosed) {
		t.Fatalf("do after close = %v, want errClosed", err)
	}
	if got := order; len(got) != 5 || got[0] != 0 || got[3] != 3 || got[4] != 9 {
		t.Fatalf("ran in order %v, want [0 1 2 3 9]", got)
	}
	if _, err := newExecutor(func() error { return want }); !errors.Is(err, want) {
		t.Fatalf("failed setup returned %v", err)
	}
}
