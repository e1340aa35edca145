package model

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/model-release/model-release/internal/kernels"
)

// bnReLU is training-mode batch norm followed by ReLU, as one op:
// y = max(0, gamma*(x-mean)/sqrt(var+eps) + beta) with the batch's mean and
// biased variance per channel. It updates the running statistics in place
// (PyTorch's convention: momentum 0.1, unbiased variance). It replaces
// gorgonia's BatchNorm + BroadcastHadamardProd + BroadcastAdd + Rectify,
// which profiled at about a third of a convnet training step (full Repeat
// copies of gamma and beta, input clones, a separate ReLU mask pass), and
// sidesteps its running-statistics traps (GORGONIA.md).
func bnReLU(x, gamma, beta *G.Node, runMean, runVar []float32) (*G.Node, error) {
	return newBNReLU(x, gamma, beta, runMean, runVar, false)
}

// bnReLUPool is bnReLU followed by a 2x2 max-pool (stride 2), as one op:
// the full-size ReLU output is never written or read back. The pool takes
// the window's largest x*scale+shift and clamps that (ReLU is monotonic),
// so values and gradients are those of the separate ops. H and W must be
// even.
func bnReLUPool(x, gamma, beta *G.Node, runMean, runVar []float32) (*G.Node, error) {
	return newBNReLU(x, gamma, beta, runMean, runVar, true)
}

func newBNReLU(x, gamma, beta *G.Node, runMean, runVar []float32, pool bool) (*G.Node, error) {
	s := x.Shape()
	if s.Dims() != 4 || gamma.Shape().TotalSize() != s[1] || beta.Shape().TotalSize() != s[1] {
		return nil, fmt.Errorf("batch norm: input %v with scale %v and shift %v: want (N,C,H,W) and C values each", s, gamma.Shape(), beta.Shape())
	}
	if pool && (s[2]%2 != 0 || s[3]%2 != 0) {
		return nil, fmt.Errorf("batch norm + 2x2 pool: input %v: height and width must be even", s)
	}
	st := &bnState{n: s[0], c: s[1], h: s[2], w: s[3], hw: s[2] * s[3], pool: pool, runMean: runMean, runVar: runVar,
		mean: make([]float32, s[1]), invStd: make([]float32, s[1]),
		scale: make([]float32, s[1]), shift: make([]float32, s[1]),
		dGamma: make([]float32, s[1]), dBeta: make([]float32, s[1])}
	return G.ApplyOp(&bnReLUOp{st}, x, gamma, beta)
}

// bnState is shared by the forward op and its gradient ops: the batch
// statistics saved by the forward pass and the parameter gradients the
// backward pass leaves for the two small ops that hand them out.
type bnState struct {
	n, c, h, w, hw  int
	pool            bool    // a 2x2 max-pool follows inside the op
	argmax          []int32 // with pool: each output's pixel in its plane
	runMean, runVar []float32
	mean, invStd    []float32
	scale, shift    []float32 // y = relu(x*scale + shift), kept for the backward pass
	dGamma, dBeta   []float32
	// y and dx back the two ops' outputs and are rewritten in full every
	// step, so a training step allocates nothing here (a node's value is
	// only read within the step that computed it).
	y, dx []float32
}

// reuse returns buf when it has n elements, else a new slice of n.
func reuse(buf []float32, n int) []float32 {
	if len(buf) == n {
		return buf
	}
	return make([]float32, n)
}

// outPlane is the size of one output plane: hw, or hw/4 after the pool.
func (s *bnState) outPlane() int {
	if s.pool {
		return s.hw / 4
	}
	return s.hw
}

// outShape is the forward output's shape for input shape in.
func (s *bnState) outShape(in tensor.Shape) tensor.Shape {
	out := in.Clone()
	if s.pool {
		out[2], out[3] = out[2]/2, out[3]/2
	}
	return out
}

// forChannels runs f for every channel, spread over the available cores.
func forChannels(c int, f func(ch int)) {
	kernels.ParallelFor(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			f(ch)
		}
	})
}

type bnReLUOp struct{ s *bnState }

func anyTensor(dims int) hm.Type { return G.TensorType{Dims: dims, Of: hm.TypeVariable('a')} }

func (op *bnReLUOp) Arity() int { return 3 }
func (op *bnReLUOp) Type() hm.Type {
	return hm.NewFnType(anyTensor(4), anyTensor(4), anyTensor(4), anyTensor(4))
}
func (op *bnReLUOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return op.s.outShape(ds[0].(tensor.Shape)), nil
}
func (op *bnReLUOp) ReturnsPtr() bool      { return false }
func (op *bnReLUOp) CallsExtern() bool     { return false }
func (op *bnReLUOp) OverwritesInput() int  { return -1 }
func (op *bnReLUOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s@%p", op, op.s) }
func (op *bnReLUOp) Hashcode() uint32      { return hashOp(op) }
func (op *bnReLUOp) String() string {
	return fmt.Sprintf("BatchNormReLU(%d,%d,%d,pool=%v)", op.s.n, op.s.c, op.s.hw, op.s.pool)
}

func (op *bnReLUOp) Do(vals ...G.Value) (G.Value, error) {
	s := op.s
	x, gamma, beta := vals[0].Data().([]float32), vals[1].Data().([]float32), vals[2].Data().([]float32)
	op2 := s.outPlane()
	s.y = reuse(s.y, s.n*s.c*op2)
	y := s.y
	if s.pool && len(s.argmax) != len(y) {
		s.argmax = make([]int32, len(y))
	}
	m := float64(s.n * s.hw)
	forChannels(s.c, func(c int) {
		// One pass: sums shifted by the channel's first value (near the mean,
		// so the variance does not cancel), per plane in float32, across
		// planes in float64.
		k := x[c*s.hw]
		var sum, sq float64
		for i := 0; i < s.n; i++ {
			ps, pq := kernels.ShiftedSums(x[(i*s.c+c)*s.hw:(i*s.c+c+1)*s.hw], k)
			sum += float64(ps)
			sq += float64(pq)
		}
		shifted := sum / m
		mean := float64(k) + shifted
		fm := float32(mean)
		variance := max(sq/m-shifted*shifted, 0)
		inv := 1 / math.Sqrt(variance+bnEpsilon)
		s.mean[c], s.invStd[c] = fm, float32(inv)
		unbiased := variance
		if m > 1 {
			unbiased = variance * m / (m - 1)
		}
		s.runMean[c] = float32((1-bnMomentum)*float64(s.runMean[c]) + bnMomentum*mean)
		s.runVar[c] = float32((1-bnMomentum)*float64(s.runVar[c]) + bnMomentum*unbiased)
		scale := gamma[c] * float32(inv)
		shift := beta[c] - fm*scale
		s.scale[c], s.shift[c] = scale, shift
		for i := 0; i < s.n; i++ {
			off := (i*s.c + c) * s.hw
			if s.pool {
				o := (i*s.c + c) * op2
				kernels.BNReLUPool2x2(x[off:off+s.hw], y[o:o+op2], s.argmax[o:o+op2], s.w, scale, shift)
				continue
			}
			kernels.ScaleShiftReLU(x[off:off+s.hw], y[off:off+s.hw], scale, shift)
		}
	})
	return tensor.New(tensor.WithShape(s.outShape(vals[0].Shape())...), tensor.WithBacking(y)), nil
}

func (op *bnReLUOp) DiffWRT(int) []bool { return []bool{true, true, true} }

func (op *bnReLUOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&bnReLUGradOp{op.s}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	dg, err := G.ApplyOp(&bnParamGradOp{s: op.s, beta: false, shape: inputs[1].Shape().Clone()}, dx)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(&bnParamGradOp{s: op.s, beta: true, shape: inputs[2].Shape().Clone()}, dx)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dg, db}, nil
}

// bnReLUGradOp computes the input gradient from x, gamma, the output y and
// its gradient dy, and leaves the gamma and beta gradients in the state:
//
//	dz = dy * [y > 0]; dbeta = sum dz; dgamma = sum dz*xhat
//	dx = gamma*invstd/M * (M*dz - dbeta - xhat*dgamma)
type bnReLUGradOp struct{ s *bnState }

func (op *bnReLUGradOp) Arity() int { return 3 }
func (op *bnReLUGradOp) Type() hm.Type {
	return hm.NewFnType(anyTensor(4), anyTensor(4), anyTensor(4), anyTensor(4))
}
func (op *bnReLUGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return ds[0].(tensor.Shape).Clone(), nil
}
func (op *bnReLUGradOp) ReturnsPtr() bool      { return false }
func (op *bnReLUGradOp) CallsExtern() bool     { return false }
func (op *bnReLUGradOp) OverwritesInput() int  { return -1 }
func (op *bnReLUGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s@%p", op, op.s) }
func (op *bnReLUGradOp) Hashcode() uint32      { return hashOp(op) }
func (op *bnReLUGradOp) String() string {
	return fmt.Sprintf("BatchNormReLUGrad(%d,%d,%d)", op.s.n, op.s.c, op.s.hw)
}

func (op *bnReLUGradOp) Do(vals ...G.Value) (G.Value, error) {
	s := op.s
	x, gamma := vals[0].Data().([]float32), vals[1].Data().([]float32)
	dy := vals[2].Data().([]float32)
	s.dx = reuse(s.dx, len(x))
	dx := s.dx
	m := float32(s.n * s.hw)
	op2 := s.outPlane()
	forChannels(s.c, func(c int) {
		mean, inv, scale, shift := s.mean[c], s.invStd[c], s.scale[c], s.shift[c]
		var db, dg float64
		for i := 0; i < s.n; i++ {
			off := (i*s.c + c) * s.hw
			var pb, pg float32
			if s.pool {
				o := (i*s.c + c) * op2
				pb, pg = kernels.PooledBNReLUGrad(x[off:off+s.hw], s.y[o:o+op2], s.argmax[o:o+op2], dy[o:o+op2], nil, mean, 0, 0, 0)
			} else {
				pb, pg = kernels.BNReLUGradSums(x[off:off+s.hw], dy[off:off+s.hw], scale, shift, mean)
			}
			db += float64(pb)
			dg += float64(pg) * float64(inv)
		}
		s.dBeta[c], s.dGamma[c] = float32(db), float32(dg)
		// dx = k*dz - a*(x-mean) - b, with the per-channel constants folded.
		k := gamma[c] * inv
		a := k * inv * float32(dg) / m
		b := k*float32(db)/m - a*mean
		for i := 0; i < s.n; i++ {
			off := (i*s.c + c) * s.hw
			if s.pool {
				o := (i*s.c + c) * op2
				kernels.PooledBNReLUGrad(x[off:off+s.hw], s.y[o:o+op2], s.argmax[o:o+op2], dy[o:o+op2], dx[off:off+s.hw], mean, k, a, b)
				continue
			}
			kernels.BNReLUInputGrad(x[off:off+s.hw], dy[off:off+s.hw], dx[off:off+s.hw], scale, shift, k, a, b)
		}
	})
	return tensor.New(tensor.WithShape(vals[0].Shape().Clone()...), tensor.WithBacking(dx)), nil
}

// bnParamGradOp hands out the gamma or beta gradient computed by
// bnReLUGradOp; taking its output as input orders it after that op.
type bnParamGradOp struct {
	s     *bnState
	beta  bool
	shape tensor.Shape
}

func (op *bnParamGradOp) Arity() int { return 1 }
func (op *bnParamGradOp) Type() hm.Type {
	return hm.NewFnType(anyTensor(4), anyTensor(op.shape.Dims()))
}
func (op *bnParamGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op *bnParamGradOp) ReturnsPtr() bool      { return false }
func (op *bnParamGradOp) CallsExtern() bool     { return false }
func (op *bnParamGradOp) OverwritesInput() int  { return -1 }
func (op *bnParamGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s@%p", op, op.s) }
func (op *bnParamGradOp) Hashcode() uint32      { return hashOp(op) }
func (op *bnParamGradOp) String() string {
	return fmt.Sprintf("BatchNormParamGrad(beta=%v,%v)", op.beta, op.shape)
}

func (op *bnParamGradOp) Do(...G.Value) (G.Value, error) {
	src := op.s.dGamma
	if op.beta {
		src = op.s.dBeta
	}
	return tensor.New(tensor.WithShape(op.shape.Clone()...), tensor.WithBacking(append([]float32(nil), src...))), nil
}

func hashOp(op fmt.Stringer) uint32 {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s@%p", op, op)
	return h.Sum32()
}
