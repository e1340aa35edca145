package model

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Net is one compiled network graph for a fixed batch size. Training nets
// (train=true) use batch statistics and update the batch-norm running
// statistics in the weights; evaluation nets fold batch norm into the convolutions and
// never change anything, so many of them can share one set of weights.
type Net struct {
	Arch  Arch
	Batch int
	Train bool
	Graph *G.ExprGraph
	// Input is (Batch,3,32,32), normalised float32.
	Input *G.Node
	// Logits is (Batch, classes).
	Logits *G.Node
	// Params are the trainable nodes and Tensors the weights they wrap
	// (same backing arrays: updating Tensors[i].Data updates the graph).
	Params  []*G.Node
	Tensors []Tensor
	// Decay[i] says whether weight decay applies to Params[i].
	Decay []bool

	input   *tensor.Dense
	weights []Tensor // all weights, in Arch.Params order
	vm      G.VM
}

// NewNet builds the graph of arch for batch images. weights must be in
// Arch.Params order (see Arch.Init, Model.Weights); a training net reads
// and writes them in place. Call Compile before Run; a training caller
// first adds its loss and gradient nodes to Graph.
func NewNet(arch Arch, weights []Tensor, batch int, layers Layers, train bool) (*Net, error) {
	if err := arch.checkWeights(weights); err != nil {
		return nil, err
	}
	weights = arch.ordered(weights)
	byName := make(map[string]Tensor, len(weights))
	for _, t := range weights {
		byName[t.Name] = t
	}
	g := G.NewGraph()
	n := &Net{Arch: arch, Batch: batch, Train: train, Graph: g, weights: weights}
	n.input = tensor.New(tensor.WithShape(batch, Channels, Height, Width), tensor.WithBacking(make([]float32, batch*ImageSize)))
	n.Input = G.NewTensor(g, G.Float32, 4, G.WithShape(batch, Channels, Height, Width), G.WithName("input"), G.WithValue(n.input))

	// param wraps a stored tensor in a graph node of the given shape,
	// sharing its backing array.
	param := func(data []float32, name string, decay bool, shape ...int) *G.Node {
		if !train {
			// Evaluation nets get private copies, so nets used from several
			// goroutines never share a buffer gorgonia might touch.
			data = append([]float32(nil), data...)
		}
		d := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
		var node *G.Node
		if len(shape) == 2 {
			node = G.NewMatrix(g, G.Float32, G.WithShape(shape...), G.WithName(name), G.WithValue(d))
		} else {
			node = G.NewTensor(g, G.Float32, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(d))
		}
		if train {
			n.Params = append(n.Params, node)
			n.Tensors = append(n.Tensors, Tensor{Name: name, Shape: shape, Data: data})
			n.Decay = append(n.Decay, decay)
		}
		return node
	}

	x := n.Input
	var err error
	for li := 0; li < len(arch.Layers); li++ {
		l := arch.Layers[li]
		switch l.Kind {
		case "conv":
			w := byName[l.Name+".weight"].Data
			b := byName[l.Name+".bias"].Data
			if !train && l.BN != "" {
				w, b = foldBN(w, b, byName[l.BN+".weight"].Data, byName[l.BN+".bias"].Data,
					byName[l.BN+".running_mean"].Data, byName[l.BN+".running_var"].Data)
			}
			wn := param(w, l.Name+".weight", true, l.Out, l.In, 3, 3)
			bn := param(b, l.Name+".bias", false, 1, l.Out, 1, 1)
			// Without batch norm in the graph the ReLU is fused.
			fuseReLU := !train || l.BN == ""
			if x, err = convLayer(layers, x, wn, bn, fuseReLU, x == n.Input); err != nil {
				return nil, fmt.Errorf("building %s: %w", l.Name, err)
			}
			if fuseReLU {
				continue
			}
			gamma := param(byName[l.BN+".weight"].Data, l.BN+".weight", false, l.Out)
			beta := param(byName[l.BN+".bias"].Data, l.BN+".bias", false, l.Out)
			runMean, runVar := byName[l.BN+".running_mean"].Data, byName[l.BN+".running_var"].Data
			if fusesPool(layers, x, arch.Layers, li) {
				// The 2x2 max-pool that follows runs inside the batch norm.
				if x, err = bnReLUPool(x, gamma, beta, runMean, runVar); err != nil {
					return nil, fmt.Errorf("building %s with the next max-pool: %w", l.BN, err)
				}
				li++
				continue
			}
			if x, err = bnReLU(x, gamma, beta, runMean, runVar); err != nil {
				return nil, fmt.Errorf("building %s: %w", l.BN, err)
			}
		case "pool":
			if x, err = layers.MaxPool2d(x, l.Size); err != nil {
				return nil, fmt.Errorf("building max-pool: %w", err)
			}
		case "linear":
			wn := param(byName[l.Name+".weight"].Data, l.Name+".weight", true, l.Out, l.In)
			bn := param(byName[l.Name+".bias"].Data, l.Name+".bias", false, 1, l.Out)
			if ll, ok := layers.(linearLayers); ok {
				if x, err = ll.Linear(x, wn, bn); err != nil {
					return nil, fmt.Errorf("building %s: %w", l.Name, err)
				}
				continue
			}
			if x, err = G.Reshape(x, tensor.Shape{batch, l.In}); err != nil {
				return nil, fmt.Errorf("flattening for %s: %w", l.Name, err)
			}
			wt, err := G.Transpose(wn)
			if err != nil {
				return nil, fmt.Errorf("building %s: %w", l.Name, err)
			}
			if x, err = G.Mul(x, wt); err != nil {
				return nil, fmt.Errorf("building %s: %w", l.Name, err)
			}
			if x, err = G.BroadcastAdd(x, bn, nil, []byte{0}); err != nil {
				return nil, fmt.Errorf("building %s bias: %w", l.Name, err)
			}
		}
	}
	n.Logits = x
	return n, nil
}

// foldBN returns convolution weights and bias with an evaluation-mode batch
// norm folded in: y = gamma*(conv(x)+b-mean)/sqrt(var+eps) + beta.
func foldBN(w, b, gamma, beta, mean, vrn []float32) (fw, fb []float32) {
	out := len(b)
	per := len(w) / out
	fw = make([]float32, len(w))
	fb = make([]float32, out)
	for o := 0; o < out; o++ {
		s := float64(gamma[o]) / math.Sqrt(float64(vrn[o])+bnEpsilon)
		for i := o * per; i < (o+1)*per; i++ {
			fw[i] = float32(float64(w[i]) * s)
		}
		fb[o] = float32((float64(b[o])-float64(mean[o]))*s + float64(beta[o]))
	}
	return fw, fb
}

// Compile creates the machine that runs the graph.
func (n *Net) Compile() error {
	if n.vm != nil {
		n.vm.Close()
	}
	if n.Train {
		n.vm = G.NewTapeMachine(n.Graph)
	} else {
		n.vm = G.NewTapeMachine(n.Graph, G.EvalMode())
	}
	return nil
}

// InputData is the backing array of the input: write Batch normalised
// images into it before Run.
func (n *Net) InputData() []float32 { return n.input.Data().([]float32) }

// Run executes the graph once (forward, and backward when the graph has
// gradient nodes). Values stay readable until the next Run.
func (n *Net) Run() error {
	if n.vm == nil {
		return fmt.Errorf("net not compiled")
	}
	n.vm.Reset()
	if err := G.Let(n.Input, n.input); err != nil {
		return fmt.Errorf("setting input: %w", err)
	}
	if err := n.vm.RunAll(); err != nil {
		return fmt.Errorf("running %s graph: %w", n.Arch.Name, err)
	}
	return nil
}

// LogitsData returns the logits of the last Run, (Batch, classes) row-major.
func (n *Net) LogitsData() []float32 { return n.Logits.Value().Data().([]float32) }

// Weights returns the net's weights (shared, not copied) in Arch.Params
// order; a training net updates them in place.
func (n *Net) Weights() []Tensor { return n.weights }

// Close releases the machine.
func (n *Net) Close() {
	if n.vm != nil {
		n.vm.Close()
	}
}

// bnPoolFuser is implemented by layer kinds that let batch norm + ReLU take in a 2x2
// max-pool right after it (the fast ops; the stock path keeps gorgonia's
// pool so it measures gorgonia).
type bnPoolFuser interface{ fusesBNPool() }

// fusesPool says whether the batch norm after layer li, with output x, runs
// the next layer's max-pool too.
func fusesPool(layers Layers, x *G.Node, arch []Layer, li int) bool {
	_, ok := layers.(bnPoolFuser)
	s := x.Shape()
	return ok && li+1 < len(arch) && arch[li+1].Kind == "pool" && arch[li+1].Size == 2 &&
		s.Dims() == 4 && s[2]%2 == 0 && s[3]%2 == 0
}

// linearLayers is implemented by layer kinds with their own fully connected
// layer over a (N, ...) input.
type linearLayers interface {
	Linear(x, w, b *G.Node) (*G.Node, error)
}

// overDataLayers is implemented by layer kinds that can skip the input
// gradient of a convolution whose input is the training batch.
type overDataLayers interface {
	Conv2dOverData(x, w, b *G.Node, pad int, relu bool) (*G.Node, error)
}

// convLayer builds a 3x3 convolution with padding 1, with the ReLU fused
// when relu is set; onData says x is the network's input.
func convLayer(layers Layers, x, w, b *G.Node, relu, onData bool) (*G.Node, error) {
	if od, ok := layers.(overDataLayers); ok && onData {
		return od.Conv2dOverData(x, w, b, 1, relu)
	}
	if relu {
		return layers.Conv2dReLU(x, w, b, 1)
	}
	return layers.Conv2d(x, w, b, 1)
}
