package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Layers builds the two layer kinds whose speed matters: convolution and
// max-pooling. "stock" uses gorgonia's own ops; "fast" uses the custom ops
// of internal/model/ops (plain Go + OpenBLAS). Both are NCHW in and out.
type Layers interface {
	// Conv2d convolves x (N,C,H,W) with w (O,C,KH,KW), adds b (1,O,1,1)
	// and returns (N,O,H',W').
	Conv2d(x, w, b *G.Node, pad int) (*G.Node, error)
	// Conv2dReLU is Conv2d followed by ReLU (fused where possible).
	Conv2dReLU(x, w, b *G.Node, pad int) (*G.Node, error)
	// MaxPool2d takes non-overlapping size x size maxima.
	MaxPool2d(x *G.Node, size int) (*G.Node, error)
}

// fastLayers is set by layers_fast.go when the fast ops are built in.
var fastLayers Layers

// KernelNames lists the implementations NewLayers accepts.
func KernelNames() []string { return []string{"fast", "stock"} }

// NewLayers returns the layer implementation named by kernels.
func NewLayers(kernels string) (Layers, error) {
	switch kernels {
	case "stock":
		return stockLayers{}, nil
	case "fast":
		if fastLayers == nil {
			return nil, fmt.Errorf("kernels %q are not built into this binary; use stock", kernels)
		}
		return fastLayers, nil
	}
	return nil, fmt.Errorf("unknown kernels %q: want fast or stock", kernels)
}

type stockLayers struct{}

func (stockLayers) Conv2d(x, w, b *G.Node, pad int) (*G.Node, error) {
	ws := w.Shape()
	y, err := G.Conv2d(x, w, tensor.Shape{ws[2], ws[3]}, []int{pad, pad}, []int{1, 1}, nil)
	if err != nil {
		return nil, err
	}
	return G.Auto(G.BroadcastAdd, y, b)
}

func (s stockLayers) Conv2dReLU(x, w, b *G.Node, pad int) (*G.Node, error) {
	y, err := s.Conv2d(x, w, b, pad)
	if err != nil {
		return nil, err
	}
	return G.Rectify(y)
}

func (stockLayers) MaxPool2d(x *G.Node, size int) (*G.Node, error) {
	return G.MaxPool2D(x, tensor.Shape{size, size}, []int{0, 0}, []int{size, size})
}
