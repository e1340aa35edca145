package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The exported loops (assembly for the bulk of a plane where there is AVX2)
// must agree with the plain Go loops: elementwise bit for bit, sums to
// float32 rounding, at every length around the 8-lane blocks.
func TestBNLoopsMatchGo(t *testing.T) {
	if !haveAVX2 {
		t.Log("no AVX2 here: the exported loops are the Go loops")
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 64, 67, 1024} {
		x, dy := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64()*2 + 0.3)
			dy[i] = float32(r.NormFloat64())
		}
		if n > 2 {
			x[1] = -0.3 / 1.7 // x*scale+shift lands on (or next to) zero
		}
		const scale, shift, mean, k, a, b = 1.7, 0.3, 0.25, 0.9, 0.05, -0.02
		closeTo := func(what string, got, want float32, scaleOf float64) {
			t.Helper()
			if d := math.Abs(float64(got - want)); d > 1e-5*(1+scaleOf) {
				t.Errorf("n=%d %s = %v, Go loop gives %v", n, what, got, want)
			}
		}
		var absSum float64
		for _, v := range x {
			absSum += math.Abs(float64(v)) * (1 + math.Abs(float64(v)))
		}
		s, sq := ShiftedSums(x, 0.3)
		ws, wq := shiftedSumsGo(x, 0.3)
		closeTo("shifted sum", s, ws, absSum)
		closeTo("shifted square sum", sq, wq, absSum)

		sb, sg := BNReLUGradSums(x, dy, scale, shift, mean)
		wb, wg := gradSumsGo(x, dy, scale, shift, mean)
		closeTo("Σdz", sb, wb, absSum)
		closeTo("Σdz(x-mean)", sg, wg, absSum)

		y, wy := make([]float32, n), make([]float32, n)
		ScaleShiftReLU(x, y, scale, shift)
		scaleShiftReLUGo(x, wy, scale, shift)
		dx, wdx := make([]float32, n), make([]float32, n)
		BNReLUInputGrad(x, dy, dx, scale, shift, k, a, b)
		inputGradGo(x, dy, wdx, scale, shift, k, a, b)
		af := make([]float32, n)
		Affine(x, af, -a, -b)
		for i := range x {
			if want := x[i]*(-a) + (-b); af[i] != want {
				t.Fatalf("n=%d affine[%d] = %v, want %v", n, i, af[i], want)
			}
			if math.Float32bits(y[i]) != math.Float32bits(wy[i]) {
				t.Fatalf("n=%d y[%d] = %v, Go loop gives %v", n, i, y[i], wy[i])
			}
			if math.Float32bits(dx[i]) != math.Float32bits(wdx[i]) {
				t.Fatalf("n=%d dx[%d] = %v, Go loop gives %v", n, i, dx[i], wdx[i])
			}
			if want := float32(math.Max(float64(x[i]*scale+shift), 0)); y[i] != want {
				t.Fatalf("n=%d y[%d] = %v, want %v", n, i, y[i], want)
			}
		}
	}
}

func BenchmarkBNLoops(b *testing.B) {
	x, y, dy := make([]float32, 1024), make([]float32, 1024), make([]float32, 1024)
	for i := range x {
		x[i] = float32(i%13) - 6
		dy[i] = float32(i%7) - 3
	}
	b.SetBytes(4 * 1024 * 4) // the four loops read x once each
	for b.Loop() {
		ShiftedSums(x, 0.1)
		ScaleShiftReLU(x, y, 1.1, 0.2)
		BNReLUGradSums(x, dy, 1.1, 0.2, 0.1)
		BNReLUInputGrad(x, dy, y, 1.1, 0.2, 0.9, 0.01, 0.02)
	}
}

// BNReLUPool2x2 (assembly for eight windows at a time where there is AVX2)
// against a plain reference: the first largest x*scale+shift of each
// window, clamped at 0, at widths that use the assembly, the Go tail, or
// both; values drawn from a few levels so windows have ties.
func TestBNReLUPool2x2(t *testing.T) {
	t.Run("as built", testBNReLUPool2x2)
	if haveAVX2 {
		// The Go path every other machine runs.
		t.Run("without AVX2", func(t *testing.T) {
			haveAVX2 = false
			defer func() { haveAVX2 = true }()
			testBNReLUPool2x2(t)
		})
	}
}

func testBNReLUPool2x2(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, w := range []int{2, 4, 8, 16, 18, 32, 34} {
		for _, scale := range []float32{1.3, -0.8} {
			h := 6
			x := make([]float32, h*w)
			for i := range x {
				x[i] = float32(r.IntN(7)-3) * 0.5
			}
			const shift = 0.25
			y, arg := make([]float32, h*w/4), make([]int32, h*w/4)
			BNReLUPool2x2(x, y, arg, w, scale, shift)
			for oy := 0; oy < h/2; oy++ {
				for ox := 0; ox < w/2; ox++ {
					best, bi := float32(math.Inf(-1)), -1
					for _, p := range []int{2*oy*w + 2*ox, 2*oy*w + 2*ox + 1, (2*oy+1)*w + 2*ox, (2*oy+1)*w + 2*ox + 1} {
						if v := x[p]*scale + shift; v > best {
							best, bi = v, p
						}
					}
					o := oy*w/2 + ox
					if want := float32(math.Max(float64(best), 0)); y[o] != want || int(arg[o]) != bi {
						t.Fatalf("w=%d scale=%v window (%d,%d): got %v at %d, want %v at %d", w, scale, oy, ox, y[o], arg[o], want, bi)
					}
				}
			}
		}
	}
}
