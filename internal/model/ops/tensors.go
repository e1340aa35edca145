package ops

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// float32s returns the contiguous float32 data behind v, checking it holds
// a tensor of the expected shape.
func float32s(name string, v gorgonia.Value, want tensor.Shape) ([]float32, error) {
	t, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%s: want a *tensor.Dense, got %T", name, v)
	}
	if t.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("%s: fast kernels need float32, got %v (use the stock kernels for other types)", name, t.Dtype())
	}
	if !t.Shape().Eq(want) {
		return nil, fmt.Errorf("%s: shape %v, want %v", name, t.Shape(), want)
	}
	if t.RequiresIterator() {
		// A transposed or sliced view: copy it into its own contiguous layout.
		m := t.Materialize().(*tensor.Dense)
		t = m
	}
	d := t.Float32s()
	if len(d) < want.TotalSize() {
		return nil, fmt.Errorf("%s: %d elements behind a %v tensor", name, len(d), want)
	}
	return d[:want.TotalSize()], nil
}

// outBuffer keeps an op's output tensor between runs so a training step does
// not allocate it again.
type outBuffer struct {
	t *tensor.Dense
}

// get returns the kept tensor, or a new one when the shape changed.
func (b *outBuffer) get(shape tensor.Shape) *tensor.Dense {
	if b.t == nil || !b.t.Shape().Eq(shape) {
		b.t = tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape.Clone()...))
	}
	return b.t
}

// pick writes into prealloc when the machine offers a suitable buffer that
// does not alias an input, and into the op's own kept buffer otherwise.
func (b *outBuffer) pick(prealloc gorgonia.Value, shape tensor.Shape, inputs ...gorgonia.Value) *tensor.Dense {
	if p, ok := prealloc.(*tensor.Dense); ok && p.Dtype() == tensor.Float32 && p.Shape().Eq(shape) && !p.RequiresIterator() {
		alias := false
		for _, in := range inputs {
			if in != nil && in.Uintptr() == p.Uintptr() {
				alias = true
			}
		}
		if !alias {
			return p
		}
	}
	return b.get(shape)
}

// tensorType is a gorgonia tensor type of the given rank over type variable a.
func tensorType(dims int) hm.Type {
	return gorgonia.TensorType{Dims: dims, Of: hm.TypeVariable('a')}
}

func checkFloat32(name string, n *gorgonia.Node) error {
	if n.Dtype() != tensor.Float32 {
		return fmt.Errorf("%s %q is %v: fast kernels need float32 (use the stock kernels)", name, n.Name(), n.Dtype())
	}
	return nil
}
