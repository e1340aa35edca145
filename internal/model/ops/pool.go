package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/model-release/model-release/internal/kernels"
)

// MaxPool2d takes the maximum over non-overlapping size x size windows of an
// NCHW input (stride = size, no padding; trailing rows and columns that do
// not fill a window are dropped). The backward pass reads the argmax saved by
// the forward pass instead of searching the windows again.
func MaxPool2d(x *gorgonia.Node, size int) (*gorgonia.Node, error) {
	xs := x.Shape()
	if xs.Dims() != 4 {
		return nil, fmt.Errorf("maxpool2d: input %v must be 4-D (NCHW)", xs)
	}
	if err := checkFloat32("input", x); err != nil {
		return nil, fmt.Errorf("maxpool2d: %w", err)
	}
	p := kernels.PoolParams{N: xs[0], C: xs[1], H: xs[2], W: xs[3], Size: size}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	y, err := gorgonia.ApplyOp(&maxPoolOp{p: p}, x)
	if err != nil {
		return nil, fmt.Errorf("maxpool2d: %w", err)
	}
	return y, nil
}

// maxPoolOp is the forward pool x -> y; it keeps the argmax of its last run
// for maxPoolGradOp.
type maxPoolOp struct {
	p      kernels.PoolParams
	argmax []int32
	out    outBuffer
}

var (
	_ gorgonia.SDOp            = (*maxPoolOp)(nil)
	_ gorgonia.UsePreallocDoer = (*maxPoolOp)(nil)
)

func (op *maxPoolOp) xShape() tensor.Shape { return tensor.Shape{op.p.N, op.p.C, op.p.H, op.p.W} }
func (op *maxPoolOp) yShape() tensor.Shape {
	return tensor.Shape{op.p.N, op.p.C, op.p.OutH(), op.p.OutW()}
}

func (op *maxPoolOp) Arity() int { return 1 }
func (op *maxPoolOp) Type() hm.Type {
	return hm.NewFnType(tensorType(4), tensorType(4))
}
func (op *maxPoolOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.yShape(), nil
}
func (op *maxPoolOp) ReturnsPtr() bool      { return false }
func (op *maxPoolOp) CallsExtern() bool     { return false }
func (op *maxPoolOp) OverwritesInput() int  { return -1 }
func (op *maxPoolOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *maxPoolOp) Hashcode() uint32      { return hashOf(op) }
func (op *maxPoolOp) String() string {
	return fmt.Sprintf("FastMaxPool2d{x(%d,%d,%d,%d) size %d}", op.p.N, op.p.C, op.p.H, op.p.W, op.p.Size)
}

func (op *maxPoolOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, inputs...)
}

func (op *maxPoolOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("%v: got %d inputs, want 1", op, len(inputs))
	}
	x, err := float32s("maxpool2d input", inputs[0], op.xShape())
	if err != nil {
		return nil, err
	}
	if len(op.argmax) != op.p.OutLen() {
		op.argmax = make([]int32, op.p.OutLen())
	}
	out := op.out.pick(prealloc, op.yShape(), inputs...)
	if err := kernels.DeviceMaxPoolForward(op.p, x, out.Float32s(), op.argmax); err != nil {
		return nil, err
	}
	return out, nil
}

func (op *maxPoolOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff feeds the forward output to the gradient op only to order it after
// the forward pass, whose argmax it reads.
func (op *maxPoolOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("%v: got %d inputs, want 1", op, len(inputs))
	}
	dx, err := gorgonia.ApplyOp(&maxPoolGradOp{fwd: op}, output, grad)
	if err != nil {
		return nil, fmt.Errorf("%v: input gradient: %w", op, err)
	}
	return gorgonia.Nodes{dx}, nil
}

// maxPoolGradOp routes (y, dy) -> dx through the forward op's argmax.
type maxPoolGradOp struct {
	backwardOp
	fwd *maxPoolOp
	out outBuffer
}

var _ gorgonia.UsePreallocDoer = (*maxPoolGradOp)(nil)

func (op *maxPoolGradOp) Arity() int { return 2 }
func (op *maxPoolGradOp) Type() hm.Type {
	return hm.NewFnType(tensorType(4), tensorType(4), tensorType(4))
}
func (op *maxPoolGradOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.fwd.xShape(), nil
}
func (op *maxPoolGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *maxPoolGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *maxPoolGradOp) String() string        { return "Grad" + op.fwd.String() }
func (op *maxPoolGradOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, inputs...)
}
func (op *maxPoolGradOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("%v: got %d inputs, want 2", op, len(inputs))
	}
	dy, err := float32s("maxpool2d output gradient", inputs[1], op.fwd.yShape())
	if err != nil {
		return nil, err
	}
	if len(op.fwd.argmax) != op.fwd.p.OutLen() {
		return nil, fmt.Errorf("%v: the forward pool has not run yet, so there is no argmax to route through", op)
	}
	out := op.out.pick(prealloc, op.fwd.xShape(), inputs...)
	if err := kernels.DeviceMaxPoolBackward(op.fwd.p, op.fwd.argmax, dy, out.Float32s()); err != nil {
		return nil, err
	}
	return out, nil
}
