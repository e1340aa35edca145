package gpu

import "fmt"

// Conv is a 2-D NCHW convolution: input (N,C,H,W), weights (O,C,KH,KW),
// output (N,O,OutH,OutW), one stride and zero padding for both axes. It
// mirrors kernels.ConvParams, which the caller has validated.
type Conv struct {
	N, C, H, W int
	O, KH, KW  int
	Stride     int
	Pad        int
}

func (p Conv) outH() int  { return (p.H+2*p.Pad-p.KH)/p.Stride + 1 }
func (p Conv) outW() int  { return (p.W+2*p.Pad-p.KW)/p.Stride + 1 }
func (p Conv) plane() int { return p.outH() * p.outW() }
func (p Conv) colK() int  { return p.C * p.KH * p.KW }
func (p Conv) inLen() int { return p.C * p.H * p.W }
func (p Conv) direct() bool {
	return p.KH == 1 && p.KW == 1 && p.Stride == 1 && p.Pad == 0
}

// maxColBytes bounds the im2col buffer; a batch whose columns need more is
// processed in chunks of images.
const maxColBytes = 512 << 20

// chunk is how many images share one im2col buffer.
func (p Conv) chunk() int {
	per := p.colK() * p.plane()
	return max(1, min(p.N, maxColBytes/4/max(1, per)))
}

func (p Conv) check(names []string, lens []int, want []int) error {
	if p.colK()*p.plane() > maxLaunch || p.N*max(p.inLen(), p.O*p.plane()) > maxLaunch {
		return fmt.Errorf("gpu conv: tensors of %v exceed 2^31 elements", p)
	}
	for i := range names {
		if lens[i] != want[i] {
			return fmt.Errorf("gpu conv: %s has %d elements, want %d", names[i], lens[i], want[i])
		}
	}
	return nil
}

// convArgs are the im2col/col2im geometry arguments after the two pointers.
func (p Conv) convArgs(total int) []uint64 {
	return []uint64{uint64(p.C), uint64(p.H), uint64(p.W), uint64(p.KH), uint64(p.KW),
		uint64(p.Stride), uint64(p.Pad), uint64(p.outH()), uint64(p.outW()), uint64(total)}
}

func ptrArgs(ptrs []uint64, rest []uint64) []uint64 { return append(ptrs, rest...) }

// ConvForward computes y = conv(x, w) + b (b may be nil), clamped at zero
// when relu is set: im2col and one cuBLAS SGEMM per image, then one
// bias/ReLU kernel over the batch.
func (g *Device) ConvForward(p Conv, x, w, b, y []float32, relu bool) error {
	if err := p.check([]string{"input", "weights", "output"}, []int{len(x), len(w), len(y)},
		[]int{p.N * p.inLen(), p.O * p.colK(), p.N * p.O * p.plane()}); err != nil {
		return err
	}
	K, P, in := p.colK(), p.plane(), p.inLen()
	return g.do(func(g prims) error {
		px, err := g.put(slotX, x)
		if err != nil {
			return err
		}
		pw, err := g.put(slotW, w)
		if err != nil {
			return err
		}
		var pb uint64
		if b != nil {
			if pb, err = g.put(slotBias, b); err != nil {
				return err
			}
		}
		py, err := g.buf(slotY, uint64(len(y))*4)
		if err != nil {
			return err
		}
		ch := p.chunk()
		var pcol uint64
		if !p.direct() {
			if pcol, err = g.buf(slotCol, uint64(ch*K*P)*4); err != nil {
				return err
			}
		}
		for n0 := 0; n0 < p.N; n0 += ch {
			nn := min(ch, p.N-n0)
			xs := px + uint64(n0*in)*4
			if !p.direct() {
				total := nn * K * P
				if err := g.launch(kIm2col, total, ptrArgs([]uint64{xs, pcol}, p.convArgs(total))...); err != nil {
					return err
				}
			}
			for i := 0; i < nn; i++ {
				col := xs + uint64(i*in)*4
				if !p.direct() {
					col = pcol + uint64(i*K*P)*4
				}
				yn := py + uint64((n0+i)*p.O*P)*4
				if err := g.gemm(false, false, p.O, P, K, 1, pw, K, col, P, 0, yn, P); err != nil {
					return err
				}
			}
		}
		if b != nil || relu {
			hasBias, doRelu := uint64(0), uint64(0)
			if b != nil {
				hasBias = 1
			} else {
				pb = py // never read; any valid pointer
			}
			if relu {
				doRelu = 1
			}
			if err := g.launch(kBiasReLU, len(y), py, pb, uint64(p.O), uint64(P), uint64(len(y)), hasBias, doRelu); err != nil {
				return err
			}
		}
		return g.get(y, py)
	})
}

// ConvBackwardData computes the input gradient dx from w and dy: one SGEMM
// Wᵀ·dy per image into columns, then the col2im gather kernel.
func (g *Device) ConvBackwardData(p Conv, w, dy, dx []float32) error {
	if err := p.check([]string{"weights", "output gradient", "input gradient"}, []int{len(w), len(dy), len(dx)},
		[]int{p.O * p.colK(), p.N * p.O * p.plane(), p.N * p.inLen()}); err != nil {
		return err
	}
	K, P, in := p.colK(), p.plane(), p.inLen()
	return g.do(func(g prims) error {
		pw, err := g.put(slotW, w)
		if err != nil {
			return err
		}
		pdy, err := g.put(slotY, dy)
		if err != nil {
			return err
		}
		pdx, err := g.buf(slotX, uint64(len(dx))*4)
		if err != nil {
			return err
		}
		ch := p.chunk()
		var pcol uint64
		if !p.direct() {
			if pcol, err = g.buf(slotCol, uint64(ch*K*P)*4); err != nil {
				return err
			}
		}
		for n0 := 0; n0 < p.N; n0 += ch {
			nn := min(ch, p.N-n0)
			for i := 0; i < nn; i++ {
				dyn := pdy + uint64((n0+i)*p.O*P)*4
				out := pdx + uint64((n0+i)*in)*4
				if !p.direct() {
					out = pcol + uint64(i*K*P)*4
				}
				if err := g.gemm(true, false, K, P, p.O, 1, pw, K, dyn, P, 0, out, P); err != nil {
					return err
				}
			}
			if !p.direct() {
				total := nn * in
				dxs := pdx + uint64(n0*in)*4
				if err := g.launch(kCol2im, total, ptrArgs([]uint64{pcol, dxs}, p.convArgs(total))...); err != nil {
					return err
				}
			}
		}
		return g.get(dx, pdx)
	})
}

// ConvBackwardFilter computes the weight gradient dw = Σₙ dyₙ·colₙᵀ,
// accumulated image by image in a fixed order (deterministic).
func (g *Device) ConvBackwardFilter(p Conv, x, dy, dw []float32) error {
	if err := p.check([]string{"input", "output gradient", "weight gradient"}, []int{len(x), len(dy), len(dw)},
		[]int{p.N * p.inLen(), p.N * p.O * p.plane(), p.O * p.colK()}); err != nil {
		return err
	}
	K, P, in := p.colK(), p.plane(), p.inLen()
	return g.do(func(g prims) error {
		px, err := g.put(slotX, x)
		if err != nil {
			return err
		}
		pdy, err := g.put(slotY, dy)
		if err != nil {
			return err
		}
		pdw, err := g.buf(slotW, uint64(len(dw))*4)
		if err != nil {
			return err
		}
		ch := p.chunk()
		var pcol uint64
		if !p.direct() {
			if pcol, err = g.buf(slotCol, uint64(ch*K*P)*4); err != nil {
				return err
			}
		}
		for n0 := 0; n0 < p.N; n0 += ch {
			nn := min(ch, p.N-n0)
			xs := px + uint64(n0*in)*4
			if !p.direct() {
				total := nn * K * P
				if err := g.launch(kIm2col, total, ptrArgs([]uint64{xs, pcol}, p.convArgs(total))...); err != nil {
					return err
				}
			}
			for i := 0; i < nn; i++ {
				col := xs + uint64(i*in)*4
				if !p.direct() {
					col = pcol + uint64(i*K*P)*4
				}
				dyn := pdy + uint64((n0+i)*p.O*P)*4
				var beta float32 = 1
				if n0+i == 0 {
					beta = 0
				}
				if err := g.gemm(false, true, p.O, K, P, 1, dyn, P, col, P, beta, pdw, K); err != nil {
					return err
				}
			}
		}
		return g.get(dw, pdw)
	})
}

// BiasGrad sums dy (n, o, plane) over n and plane into db (o) with two
// SGEMMs against vectors of ones: per-(image, channel) sums, then the sum
// over images. No atomics, so the result is deterministic.
func (g *Device) BiasGrad(n, o, plane int, dy, db []float32) error {
	if len(dy) != n*o*plane || len(db) != o {
		return fmt.Errorf("gpu bias gradient: got %d and %d elements, want %d and %d", len(dy), len(db), n*o*plane, o)
	}
	return g.do(func(g prims) error {
		pdy, err := g.put(slotY, dy)
		if err != nil {
			return err
		}
		ones, err := g.buf(slotOnes, uint64(plane)*4)
		if err != nil {
			return err
		}
		if err := g.fill(ones, plane, 1); err != nil {
			return err
		}
		onesN, err := g.buf(slotOnesN, uint64(n)*4)
		if err != nil {
			return err
		}
		if err := g.fill(onesN, n, 1); err != nil {
			return err
		}
		tmp, err := g.buf(slotTmp, uint64(n*o)*4)
		if err != nil {
			return err
		}
		// tmp (n*o x 1) = dy (n*o x plane) · ones (plane x 1)
		if err := g.gemm(false, false, n*o, 1, plane, 1, pdy, plane, ones, 1, 0, tmp, 1); err != nil {
			return err
		}
		pdb, err := g.buf(slotBias, uint64(o)*4)
		if err != nil {
			return err
		}
		// db (1 x o) = onesN (1 x n) · tmp (n x o)
		if err := g.gemm(false, false, 1, o, n, 1, onesN, n, tmp, o, 0, pdb, o); err != nil {
			return err
		}
		return g.get(db, pdb)
	})
}

// ReLUGrad writes dx = dy where y > 0, else 0.
func (g *Device) ReLUGrad(y, dy, dx []float32) error {
	if len(dy) != len(y) || len(dx) != len(y) {
		return fmt.Errorf("gpu relu gradient: lengths %d, %d, %d differ", len(y), len(dy), len(dx))
	}
	if len(y) > maxLaunch {
		return fmt.Errorf("gpu relu gradient: %d elements exceed one launch", len(y))
	}
	return g.do(func(g prims) error {
		py, err := g.put(slotX, y)
		if err != nil {
			return err
		}
		pdy, err := g.put(slotY, dy)
		if err != nil {
			return err
		}
		pdx, err := g.buf(slotC, uint64(len(dx))*4)
		if err != nil {
			return err
		}
		if err := g.launch(kReLUGrad, len(y), py, pdy, pdx, uint64(len(y))); err != nil {
			return err
		}
		return g.get(dx, pdx)
	})
}

// Pool is non-overlapping Size x Size max pooling of an NCHW input; it
// mirrors kernels.PoolParams, which the caller has validated.
type Pool struct {
	N, C, H, W int
	Size       int
}

func (p Pool) outH() int   { return p.H / p.Size }
func (p Pool) outW() int   { return p.W / p.Size }
func (p Pool) inLen() int  { return p.N * p.C * p.H * p.W }
func (p Pool) outLen() int { return p.N * p.C * p.outH() * p.outW() }

func (p Pool) args(total int) []uint64 {
	return []uint64{uint64(p.H), uint64(p.W), uint64(p.outH()), uint64(p.outW()), uint64(p.Size), uint64(total)}
}

func (p Pool) check(in, out, arg int) error {
	if p.inLen() > maxLaunch {
		return fmt.Errorf("gpu max pool: %d elements exceed one launch", p.inLen())
	}
	if in != p.inLen() || out != p.outLen() || arg != p.outLen() {
		return fmt.Errorf("gpu max pool: got %d, %d, %d elements, want %d, %d, %d", in, out, arg, p.inLen(), p.outLen(), p.outLen())
	}
	return nil
}

// MaxPoolForward writes the window maxima to y and each winner's index in
// its (H,W) plane to argmax (first in row-major order on ties).
func (g *Device) MaxPoolForward(p Pool, x, y []float32, argmax []int32) error {
	if err := p.check(len(x), len(y), len(argmax)); err != nil {
		return err
	}
	return g.do(func(g prims) error {
		px, err := g.put(slotX, x)
		if err != nil {
			return err
		}
		py, err := g.buf(slotY, uint64(len(y))*4)
		if err != nil {
			return err
		}
		pa, err := g.buf(slotArg, uint64(len(argmax))*4)
		if err != nil {
			return err
		}
		if err := g.launch(kMaxPoolFwd, len(y), append([]uint64{px, py, pa}, p.args(len(y))...)...); err != nil {
			return err
		}
		if err := g.get(y, py); err != nil {
			return err
		}
		return g.getInt32(argmax, pa)
	})
}

// MaxPoolBackward routes dy to the pixels that won their windows; dx is
// overwritten.
func (g *Device) MaxPoolBackward(p Pool, argmax []int32, dy, dx []float32) error {
	if err := p.check(len(dx), len(dy), len(argmax)); err != nil {
		return err
	}
	return g.do(func(g prims) error {
		pa, err := g.putInt32(slotArg, argmax)
		if err != nil {
			return err
		}
		pdy, err := g.put(slotY, dy)
		if err != nil {
			return err
		}
		pdx, err := g.buf(slotX, uint64(len(dx))*4)
		if err != nil {
			return err
		}
		if err := g.launch(kMaxPoolBwd, len(dx), append([]uint64{pa, pdy, pdx}, p.args(len(dx))...)...); err != nil {
			return err
		}
		return g.get(dx, pdx)
	})
}
