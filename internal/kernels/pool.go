package kernels

import "fmt"

// PoolParams describes non-overlapping Size x Size max pooling over an NCHW
// input (N,C,H,W); the output is (N,C,H/Size,W/Size), and trailing rows and
// columns that do not fill a window are dropped (floor, as in PyTorch).
type PoolParams struct {
	N, C, H, W int
	Size       int
}

// OutH is the output height.
func (p PoolParams) OutH() int { return p.H / p.Size }

// OutW is the output width.
func (p PoolParams) OutW() int { return p.W / p.Size }

// OutLen is the number of output elements (and argmax entries).
func (p PoolParams) OutLen() int { return p.N * p.C * p.OutH() * p.OutW() }

// Validate checks the window fits the input at least once.
func (p PoolParams) Validate() error {
	switch {
	case p.N <= 0 || p.C <= 0 || p.H <= 0 || p.W <= 0:
		return fmt.Errorf("max pool: input shape (%d,%d,%d,%d) must be positive", p.N, p.C, p.H, p.W)
	case p.Size <= 0:
		return fmt.Errorf("max pool: window size %d must be at least 1", p.Size)
	case p.Size > p.H || p.Size > p.W:
		return fmt.Errorf("max pool: %dx%d window does not fit a %dx%d input", p.Size, p.Size, p.H, p.W)
	}
	return nil
}

// MaxPoolForward writes the window maxima of x into y and, for each, the
// index of the winning pixel within its (H,W) plane into argmax, which the
// backward pass reads instead of searching again. Ties go to the first pixel
// in row-major order.
func MaxPoolForward(p PoolParams, x, y []float32, argmax []int32) error {
	if err := p.Validate(); err != nil {
		return err
	}
	plane, outPlane := p.H*p.W, p.OutH()*p.OutW()
	if len(x) != p.N*p.C*plane || len(y) != p.OutLen() || len(argmax) != p.OutLen() {
		return fmt.Errorf("max pool: got input %d, output %d, argmax %d elements, want %d, %d, %d",
			len(x), len(y), len(argmax), p.N*p.C*plane, p.OutLen(), p.OutLen())
	}
	oh, ow, s := p.OutH(), p.OutW(), p.Size
	parallelFor(p.N*p.C, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			xp := x[pl*plane : (pl+1)*plane]
			yp := y[pl*outPlane : (pl+1)*outPlane]
			ap := argmax[pl*outPlane : (pl+1)*outPlane]
			if s == 2 {
				maxPool2x2(p.W, oh, ow, xp, yp, ap)
				continue
			}
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					base := oy*s*p.W + ox*s
					best, bi := xp[base], base
					for ky := 0; ky < s; ky++ {
						row := base + ky*p.W
						for kx := 0; kx < s; kx++ {
							if v := xp[row+kx]; v > best {
								best, bi = v, row+kx
							}
						}
					}
					yp[oy*ow+ox] = best
					ap[oy*ow+ox] = int32(bi)
				}
			}
		}
	})
	return nil
}

// MaxPoolBackward routes each output gradient dy to the input pixel that won
// its window, as recorded by MaxPoolForward; dx is overwritten.
func MaxPoolBackward(p PoolParams, argmax []int32, dy, dx []float32) error {
	if err := p.Validate(); err != nil {
		return err
	}
	plane, outPlane := p.H*p.W, p.OutH()*p.OutW()
	if len(dx) != p.N*p.C*plane || len(dy) != p.OutLen() || len(argmax) != p.OutLen() {
		return fmt.Errorf("max pool backward: got input gradient %d, output gradient %d, argmax %d elements, want %d, %d, %d",
			len(dx), len(dy), len(argmax), p.N*p.C*plane, p.OutLen(), p.OutLen())
	}
	parallelFor(p.N*p.C, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			dxp := dx[pl*plane : (pl+1)*plane]
			clear(dxp)
			dyp := dy[pl*outPlane : (pl+1)*outPlane]
			ap := argmax[pl*outPlane : (pl+1)*outPlane]
			for i, g := range dyp {
				dxp[ap[i]] += g
			}
		}
	})
	return nil
}

// maxPool2x2 is the common 2x2 case with the window unrolled, taking two
// input rows at a time.
func maxPool2x2(w, oh, ow int, xp, yp []float32, ap []int32) {
	for oy := 0; oy < oh; oy++ {
		r0 := xp[2*oy*w : 2*oy*w+2*ow]
		r1 := xp[(2*oy+1)*w : (2*oy+1)*w+2*ow]
		yr := yp[oy*ow : (oy+1)*ow]
		ar := ap[oy*ow : (oy+1)*ow]
		base := int32(2 * oy * w)
		for ox := range yr {
			i := 2 * ox
			best, bi := r0[i], base+int32(i)
			if v := r0[i+1]; v > best {
				best, bi = v, base+int32(i+1)
			}
			if v := r1[i]; v > best {
				best, bi = v, base+int32(w+i)
			}
			if v := r1[i+1]; v > best {
				best, bi = v, base+int32(w+i+1)
			}
			yr[ox] = best
			ar[ox] = bi
		}
	}
}
