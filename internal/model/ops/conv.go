package ops

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/model-release/model-release/internal/kernels"
)

// Conv2d applies a 2-D convolution with bias: x (N,C,H,W), w (O,C,KH,KW),
// b (O) -> (N,O,H',W') in NCHW, with the same stride and zero padding on
// both axes. b may also be shaped (1,O,1,1) (any shape of O elements); its
// gradient has b's shape. It is differentiable in all three inputs.
func Conv2d(x, w, b *gorgonia.Node, stride, pad int) (*gorgonia.Node, error) {
	return conv2d(x, w, b, stride, pad, false)
}

// Conv2dReLU is Conv2d followed by max(0, .), fused: one pass over the
// output instead of a separate op and its buffer.
func Conv2dReLU(x, w, b *gorgonia.Node, stride, pad int) (*gorgonia.Node, error) {
	return conv2d(x, w, b, stride, pad, true)
}

// Conv2dOverData is Conv2d (with the ReLU fused when relu is set) whose
// input is training data: no gradient flows to x, so none is computed. For
// a network's first layer that saves a GEMM and an im2col per image as large
// as the next layer's. Gradients with respect to x cannot be asked for.
func Conv2dOverData(x, w, b *gorgonia.Node, stride, pad int, relu bool) (*gorgonia.Node, error) {
	return newConv2d(x, w, b, stride, pad, relu, true)
}

func conv2d(x, w, b *gorgonia.Node, stride, pad int, relu bool) (*gorgonia.Node, error) {
	return newConv2d(x, w, b, stride, pad, relu, false)
}

func newConv2d(x, w, b *gorgonia.Node, stride, pad int, relu, overData bool) (*gorgonia.Node, error) {
	xs, ws, bs := x.Shape(), w.Shape(), b.Shape()
	if xs.Dims() != 4 || ws.Dims() != 4 {
		return nil, fmt.Errorf("conv2d: input %v and weights %v must be 4-D (NCHW and OCHW)", xs, ws)
	}
	if xs[1] != ws[1] {
		return nil, fmt.Errorf("conv2d: input has %d channels, weights expect %d", xs[1], ws[1])
	}
	if bs.TotalSize() != ws[0] || bs.Dims() < 1 {
		return nil, fmt.Errorf("conv2d: bias shape %v, want (%d) or (1,%d,1,1)", bs, ws[0], ws[0])
	}
	for name, n := range map[string]*gorgonia.Node{"input": x, "weights": w, "bias": b} {
		if err := checkFloat32(name, n); err != nil {
			return nil, fmt.Errorf("conv2d: %w", err)
		}
	}
	p := kernels.ConvParams{N: xs[0], C: xs[1], H: xs[2], W: xs[3], O: ws[0], KH: ws[2], KW: ws[3], Stride: stride, Pad: pad}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	op := &convOp{p: p, relu: relu, overData: overData, bShape: bs.Clone()}
	y, err := gorgonia.ApplyOp(op, x, w, b)
	if err != nil {
		return nil, fmt.Errorf("conv2d: %w", err)
	}
	return y, nil
}

// convShared is what a convolution and its backward ops share.
type convShared struct {
	p      kernels.ConvParams
	bShape tensor.Shape
	ws     kernels.Workspace
}

func (s *convShared) xShape() tensor.Shape { return tensor.Shape{s.p.N, s.p.C, s.p.H, s.p.W} }
func (s *convShared) wShape() tensor.Shape { return tensor.Shape{s.p.O, s.p.C, s.p.KH, s.p.KW} }
func (s *convShared) yShape() tensor.Shape {
	return tensor.Shape{s.p.N, s.p.O, s.p.OutH(), s.p.OutW()}
}

func (s *convShared) describe(kind string) string {
	return fmt.Sprintf("%s{x(%d,%d,%d,%d) w(%d,%d,%d,%d) stride %d pad %d}", kind,
		s.p.N, s.p.C, s.p.H, s.p.W, s.p.O, s.p.C, s.p.KH, s.p.KW, s.p.Stride, s.p.Pad)
}

func hashOf(s fmt.Stringer) uint32 {
	h := fnv.New32a()
	fmt.Fprint(h, s.String())
	return h.Sum32()
}

// convOp is the forward convolution (x, w, b) -> y.
type convOp struct {
	p        kernels.ConvParams
	relu     bool
	overData bool // no input gradient: see Conv2dOverData
	bShape   tensor.Shape
	// shared is created lazily so the op value stays cheap to build and
	// the backward ops can point at the same workspace.
	shared *convShared
	out    outBuffer
}

var (
	_ gorgonia.SDOp            = (*convOp)(nil)
	_ gorgonia.UsePreallocDoer = (*convOp)(nil)
)

func (op *convOp) sh() *convShared {
	if op.shared == nil {
		op.shared = &convShared{p: op.p, bShape: op.bShape}
	}
	return op.shared
}

func (op *convOp) Arity() int { return 3 }
func (op *convOp) Type() hm.Type {
	return hm.NewFnType(tensorType(4), tensorType(4), tensorType(op.bShape.Dims()), tensorType(4))
}
func (op *convOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.sh().yShape(), nil
}
func (op *convOp) ReturnsPtr() bool      { return false }
func (op *convOp) CallsExtern() bool     { return false }
func (op *convOp) OverwritesInput() int  { return -1 }
func (op *convOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *convOp) Hashcode() uint32      { return hashOf(op) }
func (op *convOp) String() string {
	kind := "FastConv2d"
	if op.relu {
		kind += "ReLU"
	}
	if op.overData {
		kind += "OverData"
	}
	return op.sh().describe(kind)
}

func (op *convOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, inputs...)
}

func (op *convOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("%v: got %d inputs, want 3", op, len(inputs))
	}
	s := op.sh()
	x, err := float32s("conv2d input", inputs[0], s.xShape())
	if err != nil {
		return nil, err
	}
	w, err := float32s("conv2d weights", inputs[1], s.wShape())
	if err != nil {
		return nil, err
	}
	b, err := float32s("conv2d bias", inputs[2], s.bShape)
	if err != nil {
		return nil, err
	}
	out := op.out.pick(prealloc, s.yShape(), inputs...)
	if err := kernels.DeviceConvForward(s.p, x, w, b, out.Float32s(), op.relu, &s.ws); err != nil {
		return nil, err
	}
	return out, nil
}

func (op *convOp) DiffWRT(int) []bool { return []bool{!op.overData, true, true} }

// SymDiff returns the gradients of x, w and b. With a fused ReLU the
// incoming gradient is first masked by y > 0.
func (op *convOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("%v: got %d inputs, want 3", op, len(inputs))
	}
	s := op.sh()
	dy := grad
	if op.relu {
		var err error
		if dy, err = gorgonia.ApplyOp(&reluGradOp{shape: s.yShape()}, output, grad); err != nil {
			return nil, fmt.Errorf("%v: relu gradient: %w", op, err)
		}
	}
	var dx *gorgonia.Node
	if !op.overData {
		var err error
		if dx, err = gorgonia.ApplyOp(&convDataOp{s: s}, inputs[1], dy); err != nil {
			return nil, fmt.Errorf("%v: input gradient: %w", op, err)
		}
	}
	dw, err := gorgonia.ApplyOp(&convFilterOp{s: s}, inputs[0], dy)
	if err != nil {
		return nil, fmt.Errorf("%v: weight gradient: %w", op, err)
	}
	db, err := gorgonia.ApplyOp(&biasGradOp{s: s}, dy)
	if err != nil {
		return nil, fmt.Errorf("%v: bias gradient: %w", op, err)
	}
	return gorgonia.Nodes{dx, dw, db}, nil
}

// backwardOp holds what every backward op has in common: not differentiable
// again, no extern calls, no in-place writes.
type backwardOp struct{}

func (backwardOp) ReturnsPtr() bool     { return false }
func (backwardOp) CallsExtern() bool    { return false }
func (backwardOp) OverwritesInput() int { return -1 }

// convDataOp computes the input gradient (w, dy) -> dx.
type convDataOp struct {
	backwardOp
	s   *convShared
	out outBuffer
}

var _ gorgonia.UsePreallocDoer = (*convDataOp)(nil)

func (op *convDataOp) Arity() int { return 2 }
func (op *convDataOp) Type() hm.Type {
	return hm.NewFnType(tensorType(4), tensorType(4), tensorType(4))
}
func (op *convDataOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.s.xShape(), nil
}
func (op *convDataOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *convDataOp) Hashcode() uint32      { return hashOf(op) }
func (op *convDataOp) String() string        { return op.s.describe("FastConv2dInputGrad") }
func (op *convDataOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, inputs...)
}
func (op *convDataOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("%v: got %d inputs, want 2", op, len(inputs))
	}
	w, err := float32s("conv2d weights", inputs[0], op.s.wShape())
	if err != nil {
		return nil, err
	}
	dy, err := float32s("conv2d output gradient", inputs[1], op.s.yShape())
	if err != nil {
		return nil, err
	}
	out := op.out.pick(prealloc, op.s.xShape(), inputs...)
	if err := kernels.DeviceConvBackwardData(op.s.p, w, dy, out.Float32s(), &op.s.ws); err != nil {
		return nil, err
	}
	return out, nil
}

// convFilterOp computes the weight gradient (x, dy) -> dw.
type convFilterOp struct {
	backwardOp
	s   *convShared
	out outBuffer
}

var _ gorgonia.UsePreallocDoer = (*convFilterOp)(nil)

func (op *convFilterOp) Arity() int { return 2 }
func (op *convFilterOp) Type() hm.Type {
	return hm.NewFnType(tensorType(4), tensorType(4), tensorType(4))
}
func (op *convFilterOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.s.wShape(), nil
}
func (op *convFilterOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *convFilterOp) Hashcode() uint32      { return hashOf(op) }
func (op *convFilterOp) String() string        { return op.s.describe("FastConv2dWeightGrad") }
func (op *convFilterOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, inputs...)
}
func (op *convFilterOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("%v: got %d inputs, want 2", op, len(inputs))
	}
	x, err := float32s("conv2d input", inputs[0], op.s.xShape())
	if err != nil {
		return nil, err
	}
	dy, err := float32s("conv2d output gradient", inputs[1], op.s.yShape())
	if err != nil {
		return nil, err
	}
	out := op.out.pick(prealloc, op.s.wShape(), inputs...)
	if err := kernels.DeviceConvBackwardFilter(op.s.p, x, dy, out.Float32s(), nil, &op.s.ws); err != nil {
		return nil, err
	}
	return out, nil
}

// biasGradOp computes the bias gradient dy -> db (sum over N, H, W).
type biasGradOp struct {
	backwardOp
	s   *convShared
	out outBuffer
}

var _ gorgonia.UsePreallocDoer = (*biasGradOp)(nil)

func (op *biasGradOp) Arity() int { return 1 }
func (op *biasGradOp) Type() hm.Type {
	return hm.NewFnType(tensorType(4), tensorType(op.s.bShape.Dims()))
}
func (op *biasGradOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.s.bShape.Clone(), nil
}
func (op *biasGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *biasGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *biasGradOp) String() string        { return op.s.describe("FastConv2dBiasGrad") }
func (op *biasGradOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, inputs...)
}
func (op *biasGradOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("%v: got %d inputs, want 1", op, len(inputs))
	}
	dy, err := float32s("conv2d output gradient", inputs[0], op.s.yShape())
	if err != nil {
		return nil, err
	}
	out := op.out.pick(prealloc, op.s.bShape, inputs...)
	if err := kernels.DeviceBiasGrad(op.s.p.N, op.s.p.O, op.s.p.OutH()*op.s.p.OutW(), dy, out.Float32s()); err != nil {
		return nil, err
	}
	return out, nil
}

// reluGradOp masks a gradient by where the fused ReLU's output was positive:
// (y, dy) -> dy * (y > 0).
type reluGradOp struct {
	backwardOp
	shape tensor.Shape
	out   outBuffer
}

var _ gorgonia.UsePreallocDoer = (*reluGradOp)(nil)

func (op *reluGradOp) Arity() int { return 2 }
func (op *reluGradOp) Type() hm.Type {
	return hm.NewFnType(tensorType(op.shape.Dims()), tensorType(op.shape.Dims()), tensorType(op.shape.Dims()))
}
func (op *reluGradOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op *reluGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *reluGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *reluGradOp) String() string        { return fmt.Sprintf("FastReLUGrad%v", op.shape) }
func (op *reluGradOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, inputs...)
}
func (op *reluGradOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("%v: got %d inputs, want 2", op, len(inputs))
	}
	y, err := float32s("relu output", inputs[0], op.shape)
	if err != nil {
		return nil, err
	}
	dy, err := float32s("relu output gradient", inputs[1], op.shape)
	if err != nil {
		return nil, err
	}
	out := op.out.pick(prealloc, op.shape, inputs...)
	if err := kernels.DeviceReLUGrad(y, dy, out.Float32s()); err != nil {
		return nil, err
	}
	return out, nil
}
