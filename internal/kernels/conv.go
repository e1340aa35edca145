package kernels

import "fmt"

// ConvParams describes a 2-D convolution in NCHW layout: input (N,C,H,W),
// weights (O,C,KH,KW), output (N,O,OutH,OutW), the same stride and zero
// padding on both axes.
type ConvParams struct {
	N, C, H, W int
	O, KH, KW  int
	Stride     int
	Pad        int
}

// OutH is the output height.
func (p ConvParams) OutH() int { return (p.H+2*p.Pad-p.KH)/p.Stride + 1 }

// OutW is the output width.
func (p ConvParams) OutW() int { return (p.W+2*p.Pad-p.KW)/p.Stride + 1 }

// Validate checks the sizes make a convolution with at least one output pixel.
func (p ConvParams) Validate() error {
	switch {
	case p.N <= 0 || p.C <= 0 || p.H <= 0 || p.W <= 0:
		return fmt.Errorf("conv: input shape (%d,%d,%d,%d) must be positive", p.N, p.C, p.H, p.W)
	case p.O <= 0 || p.KH <= 0 || p.KW <= 0:
		return fmt.Errorf("conv: weight shape (%d,%d,%d,%d) must be positive", p.O, p.C, p.KH, p.KW)
	case p.Stride <= 0:
		return fmt.Errorf("conv: stride %d must be at least 1", p.Stride)
	case p.Pad < 0:
		return fmt.Errorf("conv: padding %d must not be negative", p.Pad)
	case p.H+2*p.Pad < p.KH || p.W+2*p.Pad < p.KW:
		return fmt.Errorf("conv: %dx%d kernel does not fit a %dx%d input padded by %d", p.KH, p.KW, p.H, p.W, p.Pad)
	}
	return nil
}

// Sizes in elements of each tensor.
func (p ConvParams) inSize() int  { return p.C * p.H * p.W }
func (p ConvParams) colK() int    { return p.C * p.KH * p.KW }
func (p ConvParams) outP() int    { return p.OutH() * p.OutW() }
func (p ConvParams) outSize() int { return p.O * p.outP() }

// direct reports whether the input already is its own im2col matrix
// (1x1 kernel, stride 1, no padding), so the copy is skipped.
func (p ConvParams) direct() bool {
	return p.KH == 1 && p.KW == 1 && p.Stride == 1 && p.Pad == 0
}

func checkLen(name string, got, want int) error {
	if got != want {
		return fmt.Errorf("conv: %s has %d elements, want %d", name, got, want)
	}
	return nil
}

// ConvForward computes y = conv(x, w) + b (b may be nil), and clamps at zero
// when relu is set. y is overwritten.
func ConvForward(p ConvParams, x, w, b, y []float32, relu bool, ws *Workspace) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := firstErr(
		checkLen("input", len(x), p.N*p.inSize()),
		checkLen("weights", len(w), p.O*p.colK()),
		checkLen("output", len(y), p.N*p.outSize()),
	); err != nil {
		return err
	}
	if b != nil {
		if err := checkLen("bias", len(b), p.O); err != nil {
			return err
		}
	}
	var slabs [][]float32
	if !p.direct() {
		slabs = ws.slabs(workers(p.N), p.colK()*p.outP())
		defer ws.mu.Unlock()
	}
	convForward(p, x, w, b, y, relu, slabs)
	return nil
}

// convForward is ConvForward once sizes are checked, with one im2col slab
// per worker (none for a direct convolution).
func convForward(p ConvParams, x, w, b, y []float32, relu bool, slabs [][]float32) {
	K, P := p.colK(), p.outP()
	sgemm := gemm()
	parallelFor(p.N, func(wk, lo, hi int) {
		for n := lo; n < hi; n++ {
			xn := x[n*p.inSize() : (n+1)*p.inSize()]
			col := xn
			if !p.direct() {
				col = slabs[wk]
				im2col(p, xn, col)
			}
			yn := y[n*p.outSize() : (n+1)*p.outSize()]
			var beta float32
			if b != nil {
				for o := 0; o < p.O; o++ {
					fill(yn[o*P:(o+1)*P], b[o])
				}
				beta = 1
			}
			sgemm(false, false, p.O, P, K, 1, w, K, col, P, beta, yn, P)
			if relu {
				for i, v := range yn {
					if v < 0 {
						yn[i] = 0
					}
				}
			}
		}
	})
}

// ConvBackwardData computes dx, the gradient of the input, from the weights
// and the output gradient dy. dx is overwritten.
func ConvBackwardData(p ConvParams, w, dy, dx []float32, ws *Workspace) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := firstErr(
		checkLen("weights", len(w), p.O*p.colK()),
		checkLen("output gradient", len(dy), p.N*p.outSize()),
		checkLen("input gradient", len(dx), p.N*p.inSize()),
	); err != nil {
		return err
	}
	if t, ok := p.transposed(); ok && !p.direct() {
		// dx is the convolution of dy with the weights flipped in space and
		// with input and output channels swapped: an im2col gather of dy and
		// one GEMM per image, instead of a GEMM and a scatter-add (col2im).
		nw := workers(p.N)
		slabs := ws.slabs(nw+1, max(t.colK()*t.outP(), len(w)))
		defer ws.mu.Unlock()
		wt := slabs[nw][:len(w)]
		flipWeights(p, w, wt)
		convForward(t, dy, wt, nil, dx, false, slabs[:nw])
		return nil
	}
	K, P := p.colK(), p.outP()
	nw := workers(p.N)
	var slabs [][]float32
	if !p.direct() {
		slabs = ws.slabs(nw, K*P)
		defer ws.mu.Unlock()
	}
	sgemm := gemm()
	parallelFor(p.N, func(wk, lo, hi int) {
		for n := lo; n < hi; n++ {
			dxn := dx[n*p.inSize() : (n+1)*p.inSize()]
			dyn := dy[n*p.outSize() : (n+1)*p.outSize()]
			if p.direct() {
				sgemm(true, false, K, P, p.O, 1, w, K, dyn, P, 0, dxn, P)
				continue
			}
			dcol := slabs[wk]
			sgemm(true, false, K, P, p.O, 1, w, K, dyn, P, 0, dcol, P)
			col2im(p, dcol, dxn)
		}
	})
	return nil
}

// transposed returns the convolution whose forward pass computes this one's
// input gradient: over the output gradient, stride 1, padding KH-1-Pad. It
// exists for stride 1 and padding below the kernel size, with the same
// padding on both axes (square kernels).
func (p ConvParams) transposed() (ConvParams, bool) {
	if p.Stride != 1 || p.KH != p.KW || p.Pad > p.KH-1 {
		return ConvParams{}, false
	}
	return ConvParams{N: p.N, C: p.O, H: p.OutH(), W: p.OutW(), O: p.C, KH: p.KH, KW: p.KW,
		Stride: 1, Pad: p.KH - 1 - p.Pad}, true
}

// flipWeights writes w (O,C,KH,KW) as wt (C,O,KH,KW) rotated 180° in space.
func flipWeights(p ConvParams, w, wt []float32) {
	kk := p.KH * p.KW
	for o := 0; o < p.O; o++ {
		for c := 0; c < p.C; c++ {
			src := w[(o*p.C+c)*kk : (o*p.C+c+1)*kk]
			dst := wt[(c*p.O+o)*kk : (c*p.O+o+1)*kk]
			for i, v := range src {
				dst[kk-1-i] = v
			}
		}
	}
}

// ConvBackwardFilter computes dw, the gradient of the weights, from the input
// x and the output gradient dy, and the bias gradient db when db is not nil.
// dw and db are overwritten.
func ConvBackwardFilter(p ConvParams, x, dy, dw, db []float32, ws *Workspace) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := firstErr(
		checkLen("input", len(x), p.N*p.inSize()),
		checkLen("output gradient", len(dy), p.N*p.outSize()),
		checkLen("weight gradient", len(dw), p.O*p.colK()),
	); err != nil {
		return err
	}
	if db != nil {
		if err := checkLen("bias gradient", len(db), p.O); err != nil {
			return err
		}
	}
	K, P := p.colK(), p.outP()
	nw := workers(p.N)
	colSize := K * P
	if p.direct() {
		colSize = 0
	}
	// Each worker: [im2col buffer | private dwᵀ (K,O) | private db]. The
	// GEMM computes dwᵀ = col·dyᵀ, an M of K rows rather than O: OpenBLAS
	// runs 6-20% faster on these shapes that way (O is only 32-128).
	slabs := ws.slabs(nw, colSize+p.O*K+p.O)
	defer ws.mu.Unlock()
	sgemm := gemm()
	parallelChunks(p.N, func(wk, lo, hi int) {
		s := slabs[wk]
		accT, accB := s[colSize:colSize+p.O*K], s[colSize+p.O*K:]
		clear(accT)
		clear(accB)
		for n := lo; n < hi; n++ {
			xn := x[n*p.inSize() : (n+1)*p.inSize()]
			dyn := dy[n*p.outSize() : (n+1)*p.outSize()]
			col := xn
			if !p.direct() {
				col = s[:colSize]
				im2col(p, xn, col)
			}
			sgemm(false, true, K, p.O, P, 1, col, P, dyn, P, 1, accT, p.O)
			if db != nil {
				for o := 0; o < p.O; o++ {
					accB[o] += sum(dyn[o*P : (o+1)*P])
				}
			}
		}
	})
	// dw = Σ over workers of their dwᵀ, transposed; summed in worker order
	// so the result does not vary from run to run.
	for o := 0; o < p.O; o++ {
		row := dw[o*K : (o+1)*K]
		for k := range row {
			var acc float32
			for wk := 0; wk < nw; wk++ {
				acc += slabs[wk][colSize+k*p.O+o]
			}
			row[k] = acc
		}
	}
	if db != nil {
		clear(db)
		for wk := 0; wk < nw; wk++ {
			addTo(db, slabs[wk][colSize+p.O*K:])
		}
	}
	return nil
}

// BiasGrad sums dy (N,O,P) over N and P into db (O), overwriting db.
func BiasGrad(n, o, plane int, dy, db []float32) error {
	if err := firstErr(
		checkLen("output gradient", len(dy), n*o*plane),
		checkLen("bias gradient", len(db), o),
	); err != nil {
		return err
	}
	parallelFor(o, func(_, lo, hi int) {
		for c := lo; c < hi; c++ {
			var acc float32
			for i := 0; i < n; i++ {
				off := (i*o + c) * plane
				acc += sum(dy[off : off+plane])
			}
			db[c] = acc
		}
	})
	return nil
}

// validRange returns the output columns [lo, hi) whose input column
// ow*stride+d falls inside [0, size).
func validRange(d, size, stride, out int) (lo, hi int) {
	if d < 0 {
		lo = (-d + stride - 1) / stride
	}
	if size-1-d >= 0 {
		hi = (size-1-d)/stride + 1
	}
	hi = min(hi, out)
	lo = min(lo, hi)
	return lo, hi
}

// im2col writes one image x (C,H,W) as col (C*KH*KW, OutH*OutW): row
// (c*KH+kh)*KW+kw holds the input pixel under that kernel tap for every
// output position, zero where it falls in the padding.
func im2col(p ConvParams, x, col []float32) {
	if p.Stride == 1 && p.OutH() == p.H && p.OutW() == p.W {
		im2colSame(p, x, col)
		return
	}
	oh, ow, s := p.OutH(), p.OutW(), p.Stride
	P := oh * ow
	r := 0
	for c := 0; c < p.C; c++ {
		plane := x[c*p.H*p.W : (c+1)*p.H*p.W]
		for kh := 0; kh < p.KH; kh++ {
			for kw := 0; kw < p.KW; kw++ {
				row := col[r*P : (r+1)*P]
				r++
				d := kw - p.Pad
				lo, hi := validRange(d, p.W, s, ow)
				for y := 0; y < oh; y++ {
					dst := row[y*ow : (y+1)*ow]
					ih := y*s - p.Pad + kh
					if ih < 0 || ih >= p.H {
						clear(dst)
						continue
					}
					src := plane[ih*p.W : (ih+1)*p.W]
					clear(dst[:lo])
					clear(dst[hi:])
					if s == 1 {
						copy(dst[lo:hi], src[lo+d:hi+d])
						continue
					}
					iw := lo*s + d
					for xo := lo; xo < hi; xo++ {
						dst[xo] = src[iw]
						iw += s
					}
				}
			}
		}
	}
}

// im2colSame is im2col for a stride-1 convolution whose output is as large
// as its input. Each col row is then the input plane shifted by a constant
// offset: one block copy per row, then zeros where a tap falls off an edge
// (whole rows at the top and bottom, a few columns where the shift wrapped
// around). Copying row by row instead spends more on calls than on moving
// data at widths of 8 to 32.
func im2colSame(p ConvParams, x, col []float32) {
	H, W := p.H, p.W
	P := H * W
	r := 0
	for c := 0; c < p.C; c++ {
		plane := x[c*P : (c+1)*P]
		for kh := 0; kh < p.KH; kh++ {
			dy := kh - p.Pad
			// Output rows whose input row lies inside the plane.
			ylo, yhi := max(0, -dy), min(H, H-dy)
			for kw := 0; kw < p.KW; kw++ {
				row := col[r*P : (r+1)*P]
				r++
				dx := kw - p.Pad
				if ylo >= yhi {
					clear(row)
					continue
				}
				clear(row[:ylo*W])
				clear(row[yhi*W:])
				a, b := ylo*W, yhi*W
				off := dy*W + dx
				// The block may reach one tap past either end of the plane;
				// those entries are wrapped-around columns, zeroed below.
				sa, sb := a+off, b+off
				if sa < 0 {
					a -= sa
					sa = 0
				}
				if sb > P {
					b -= sb - P
					sb = P
				}
				copy(row[a:b], plane[sa:sb])
				// At most Pad columns per row: plain stores beat calls.
				switch {
				case dx < 0:
					for y := ylo; y < yhi; y++ {
						for i := y * W; i < min(y*W-dx, (y+1)*W); i++ {
							row[i] = 0
						}
					}
				case dx > 0:
					for y := ylo; y < yhi; y++ {
						for i := max((y+1)*W-dx, y*W); i < (y+1)*W; i++ {
							row[i] = 0
						}
					}
				}
			}
		}
	}
}

// col2im is the adjoint of im2col: it overwrites x (C,H,W) with the sum of
// every col entry that im2col would have copied from each pixel.
func col2im(p ConvParams, col, x []float32) {
	clear(x)
	oh, ow, s := p.OutH(), p.OutW(), p.Stride
	P := oh * ow
	r := 0
	for c := 0; c < p.C; c++ {
		plane := x[c*p.H*p.W : (c+1)*p.H*p.W]
		for kh := 0; kh < p.KH; kh++ {
			for kw := 0; kw < p.KW; kw++ {
				row := col[r*P : (r+1)*P]
				r++
				d := kw - p.Pad
				lo, hi := validRange(d, p.W, s, ow)
				for y := 0; y < oh; y++ {
					ih := y*s - p.Pad + kh
					if ih < 0 || ih >= p.H {
						continue
					}
					src := row[y*ow : (y+1)*ow]
					dst := plane[ih*p.W : (ih+1)*p.W]
					if s == 1 {
						addTo(dst[lo+d:hi+d], src[lo:hi])
						continue
					}
					iw := lo*s + d
					for xo := lo; xo < hi; xo++ {
						dst[iw] += src[xo]
						iw += s
					}
				}
			}
		}
	}
}

func fill(s []float32, v float32) {
	// Set a few, then double the filled prefix with copy (memmove moves
	// 32 bytes a step; a Go store loop moves 4).
	n := min(len(s), 8)
	for i := range n {
		s[i] = v
	}
	for n < len(s) {
		n += copy(s[n:], s[:n])
	}
}

// addTo adds src into dst element-wise (len(src) <= len(dst)).
func addTo(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}

// sum adds s in float32, eight lanes at a time where there is AVX2.
func sum(s []float32) float32 {
	v, _ := ShiftedSums(s, 0)
	return v
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
