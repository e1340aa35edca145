package model

import (
	G "gorgonia.org/gorgonia"

	"github.com/model-release/model-release/internal/model/ops"
)

func init() { fastLayers = fastOps{} }

// fastOps are the custom ops of internal/model/ops: plain Go plus OpenBLAS
// SGEMM, NCHW without gorgonia's transposes.
type fastOps struct{}

func (fastOps) Conv2d(x, w, b *G.Node, pad int) (*G.Node, error) { return ops.Conv2d(x, w, b, 1, pad) }
func (fastOps) Conv2dReLU(x, w, b *G.Node, pad int) (*G.Node, error) {
	return ops.Conv2dReLU(x, w, b, 1, pad)
}

// Conv2dOverData is a first layer's convolution: no input gradient.
func (fastOps) Conv2dOverData(x, w, b *G.Node, pad int, relu bool) (*G.Node, error) {
	return ops.Conv2dOverData(x, w, b, 1, pad, relu)
}

// Linear is the fully connected layer, with kept buffers.
func (fastOps) Linear(x, w, b *G.Node) (*G.Node, error)        { return ops.Linear(x, w, b) }
func (fastOps) fusesBNPool()                                   {}
func (fastOps) MaxPool2d(x *G.Node, size int) (*G.Node, error) { return ops.MaxPool2d(x, size) }
