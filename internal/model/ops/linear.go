package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/model-release/model-release/internal/kernels"
)

// Linear computes y = x·wᵀ + b: x (N, ...) read as N rows of In values
// (so a pooled NCHW tensor needs no reshape), w (Out, In), b (Out) or
// (1, Out), y (N, Out). Its ops keep their outputs between steps: built
// from gorgonia's Reshape, Transpose, Mul and BroadcastAdd, the layer
// reallocated about 1 MB a step at batch 128 (the tape machine's registers
// change shape between those nodes) plus a transposed copy of w. Each row
// is its own product, so a prediction does not depend on its batch.
func Linear(x, w, b *gorgonia.Node) (*gorgonia.Node, error) {
	xs, ws, bs := x.Shape(), w.Shape(), b.Shape()
	if xs.Dims() < 2 || ws.Dims() != 2 {
		return nil, fmt.Errorf("linear: input %v must have a batch axis and weights %v must be (out, in)", xs, ws)
	}
	in := xs.TotalSize() / xs[0]
	if ws[1] != in {
		return nil, fmt.Errorf("linear: input %v has %d values per row, weights %v expect %d", xs, in, ws, ws[1])
	}
	if bs.TotalSize() != ws[0] {
		return nil, fmt.Errorf("linear: bias shape %v, want (%d) or (1,%d)", bs, ws[0], ws[0])
	}
	for name, n := range map[string]*gorgonia.Node{"input": x, "weights": w, "bias": b} {
		if err := checkFloat32(name, n); err != nil {
			return nil, fmt.Errorf("linear: %w", err)
		}
	}
	s := &linearShared{n: xs[0], in: in, out: ws[0], xShape: xs.Clone(), bShape: bs.Clone()}
	y, err := gorgonia.ApplyOp(&linearOp{s: s}, x, w, b)
	if err != nil {
		return nil, fmt.Errorf("linear: %w", err)
	}
	return y, nil
}

type linearShared struct {
	n, in, out     int
	xShape, bShape tensor.Shape
}

func (s *linearShared) wShape() tensor.Shape { return tensor.Shape{s.out, s.in} }
func (s *linearShared) yShape() tensor.Shape { return tensor.Shape{s.n, s.out} }
func (s *linearShared) describe(kind string) string {
	return fmt.Sprintf("%s{x%v w(%d,%d)}", kind, s.xShape, s.out, s.in)
}

// linearOp is the forward layer (x, w, b) -> y.
type linearOp struct {
	s   *linearShared
	out outBuffer
}

var _ gorgonia.SDOp = (*linearOp)(nil)

func (op *linearOp) Arity() int { return 3 }
func (op *linearOp) Type() hm.Type {
	return hm.NewFnType(tensorType(op.s.xShape.Dims()), tensorType(2), tensorType(op.s.bShape.Dims()), tensorType(2))
}
func (op *linearOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.s.yShape(), nil
}
func (op *linearOp) ReturnsPtr() bool      { return false }
func (op *linearOp) CallsExtern() bool     { return false }
func (op *linearOp) OverwritesInput() int  { return -1 }
func (op *linearOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *linearOp) Hashcode() uint32      { return hashOf(op) }
func (op *linearOp) String() string        { return op.s.describe("FastLinear") }

func (op *linearOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("%v: got %d inputs, want 3", op, len(inputs))
	}
	s := op.s
	x, err := float32s("linear input", inputs[0], s.xShape)
	if err != nil {
		return nil, err
	}
	w, err := float32s("linear weights", inputs[1], s.wShape())
	if err != nil {
		return nil, err
	}
	b, err := float32s("linear bias", inputs[2], s.bShape)
	if err != nil {
		return nil, err
	}
	out := op.out.get(s.yShape())
	y := out.Float32s()
	for i := 0; i < s.n; i++ {
		row := y[i*s.out : (i+1)*s.out]
		copy(row, b)
		// y_i = 1·x_i·wᵀ + 1·b, one row at a time (see Linear).
		if err := kernels.Sgemm(kernels.NoTrans, kernels.Trans, 1, s.out, s.in, 1, x[i*s.in:(i+1)*s.in], s.in, w, s.in, 1, row, s.out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (op *linearOp) DiffWRT(int) []bool { return []bool{true, true, true} }

func (op *linearOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("%v: got %d inputs, want 3", op, len(inputs))
	}
	dx, err := gorgonia.ApplyOp(&linearGradOp{s: op.s, of: linearGradInput}, inputs[1], grad)
	if err != nil {
		return nil, fmt.Errorf("%v: input gradient: %w", op, err)
	}
	dw, err := gorgonia.ApplyOp(&linearGradOp{s: op.s, of: linearGradWeights}, inputs[0], grad)
	if err != nil {
		return nil, fmt.Errorf("%v: weight gradient: %w", op, err)
	}
	db, err := gorgonia.ApplyOp(&linearGradOp{s: op.s, of: linearGradBias}, grad)
	if err != nil {
		return nil, fmt.Errorf("%v: bias gradient: %w", op, err)
	}
	return gorgonia.Nodes{dx, dw, db}, nil
}

// What a linearGradOp computes.
type linearGrad int

const (
	linearGradInput   linearGrad = iota // (w, dy) -> dx = dy·w
	linearGradWeights                   // (x, dy) -> dw = dyᵀ·x
	linearGradBias                      // (dy) -> db = Σ rows of dy
)

type linearGradOp struct {
	backwardOp
	s   *linearShared
	of  linearGrad
	out outBuffer
}

func (op *linearGradOp) Arity() int {
	if op.of == linearGradBias {
		return 1
	}
	return 2
}
func (op *linearGradOp) outShape() tensor.Shape {
	switch op.of {
	case linearGradInput:
		return op.s.xShape
	case linearGradWeights:
		return op.s.wShape()
	}
	return op.s.bShape
}
func (op *linearGradOp) Type() hm.Type {
	out := tensorType(op.outShape().Dims())
	switch op.of {
	case linearGradInput:
		return hm.NewFnType(tensorType(2), tensorType(2), out)
	case linearGradWeights:
		return hm.NewFnType(tensorType(op.s.xShape.Dims()), tensorType(2), out)
	}
	return hm.NewFnType(tensorType(2), out)
}
func (op *linearGradOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.outShape().Clone(), nil
}
func (op *linearGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *linearGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *linearGradOp) String() string {
	return op.s.describe([...]string{"FastLinearInputGrad", "FastLinearWeightGrad", "FastLinearBiasGrad"}[op.of])
}

func (op *linearGradOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != op.Arity() {
		return nil, fmt.Errorf("%v: got %d inputs, want %d", op, len(inputs), op.Arity())
	}
	s := op.s
	dy, err := float32s("linear output gradient", inputs[len(inputs)-1], s.yShape())
	if err != nil {
		return nil, err
	}
	out := op.out.get(op.outShape())
	res := out.Float32s()
	switch op.of {
	case linearGradInput:
		w, err := float32s("linear weights", inputs[0], s.wShape())
		if err != nil {
			return nil, err
		}
		err = kernels.Sgemm(kernels.NoTrans, kernels.NoTrans, s.n, s.in, s.out, 1, dy, s.out, w, s.in, 0, res, s.in)
		return out, err
	case linearGradWeights:
		x, err := float32s("linear input", inputs[0], s.xShape)
		if err != nil {
			return nil, err
		}
		err = kernels.Sgemm(kernels.Trans, kernels.NoTrans, s.out, s.in, s.n, 1, dy, s.out, x, s.in, 0, res, s.in)
		return out, err
	}
	clear(res)
	for i := 0; i < s.n; i++ {
		for o, v := range dy[i*s.out : (i+1)*s.out] {
			res[o] += v
		}
	}
	return out, nil
}
