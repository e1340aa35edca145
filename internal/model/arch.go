package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
)

// Input geometry of every network here: CIFAR-10 images, NCHW.
const (
	Channels = 3
	Height   = 32
	Width    = 32
	// ImageSize is the number of uint8 values in one CHW record.
	ImageSize = Channels * Height * Width
)

// bnEpsilon and bnMomentum follow PyTorch's BatchNorm2d defaults, so the
// saved running statistics mean the same thing there.
const (
	bnEpsilon  = 1e-5
	bnMomentum = 0.1
)

// Layer is one step of a network: a convolution (3x3, padding 1, optional
// batch norm) followed by ReLU, a max-pool, or the final linear layer.
type Layer struct {
	Kind string `json:"kind"` // "conv", "pool" or "linear"
	Name string `json:"name,omitempty"`
	In   int    `json:"in,omitempty"`
	Out  int    `json:"out,omitempty"`
	// BN names the batch-norm layer after a convolution ("" for none).
	BN   string `json:"bn,omitempty"`
	Size int    `json:"size,omitempty"` // pooling window and stride
}

// Arch is a network architecture: an ordered list of layers.
type Arch struct {
	Name   string
	Layers []Layer
}

func conv(name, bn string, in, out int) Layer {
	return Layer{Kind: "conv", Name: name, In: in, Out: out, BN: bn}
}
func pool() Layer { return Layer{Kind: "pool", Size: 2} }

var archs = map[string]func(classes int) Arch{
	// seed is the design document's small reference model.
	"seed": func(classes int) Arch {
		return Arch{Name: "seed", Layers: []Layer{
			conv("conv1", "", 3, 64), pool(),
			{Kind: "linear", Name: "fc", In: 64 * 16 * 16, Out: classes},
		}}
	},
	// convnet is a VGG-style CNN: three stages of two conv3x3+BN+ReLU and a
	// 2x2 max-pool (32-64-128 channels), then one linear layer. It is the
	// "6-conv BN CNN" of the PyTorch reference, narrow enough that a CPU
	// epoch of CIFAR-10 takes minutes, not hours.
	"convnet": func(classes int) Arch {
		return Arch{Name: "convnet", Layers: []Layer{
			conv("conv1", "bn1", 3, 32), conv("conv2", "bn2", 32, 32), pool(),
			conv("conv3", "bn3", 32, 64), conv("conv4", "bn4", 64, 64), pool(),
			conv("conv5", "bn5", 64, 128), conv("conv6", "bn6", 128, 128), pool(),
			{Kind: "linear", Name: "fc", In: 128 * 4 * 4, Out: classes},
		}}
	},
}

// Architectures lists the names LookupArch accepts.
func Architectures() []string {
	var names []string
	for n := range archs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupArch returns the named architecture for the given number of classes.
func LookupArch(name string, classes int) (Arch, error) {
	f, ok := archs[name]
	if !ok {
		return Arch{}, fmt.Errorf("unknown architecture %q: want one of %s", name, strings.Join(Architectures(), ", "))
	}
	if classes < 2 {
		return Arch{}, fmt.Errorf("architecture %s: need at least 2 classes, got %d", name, classes)
	}
	return f(classes), nil
}

// ParamSpec names one stored tensor of an architecture.
type ParamSpec struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	// Trainable is false for batch-norm running statistics.
	Trainable bool `json:"-"`
	// Decay says whether weight decay applies (weights of conv and linear
	// layers, not biases or batch-norm parameters).
	Decay bool `json:"-"`
}

// Params lists every tensor the architecture stores, in a fixed order,
// with PyTorch names and layouts.
func (a Arch) Params() []ParamSpec {
	var ps []ParamSpec
	for _, l := range a.Layers {
		switch l.Kind {
		case "conv":
			ps = append(ps,
				ParamSpec{Name: l.Name + ".weight", Shape: []int{l.Out, l.In, 3, 3}, Trainable: true, Decay: true},
				ParamSpec{Name: l.Name + ".bias", Shape: []int{l.Out}, Trainable: true})
			if l.BN != "" {
				ps = append(ps,
					ParamSpec{Name: l.BN + ".weight", Shape: []int{l.Out}, Trainable: true},
					ParamSpec{Name: l.BN + ".bias", Shape: []int{l.Out}, Trainable: true},
					ParamSpec{Name: l.BN + ".running_mean", Shape: []int{l.Out}},
					ParamSpec{Name: l.BN + ".running_var", Shape: []int{l.Out}})
			}
		case "linear":
			ps = append(ps,
				ParamSpec{Name: l.Name + ".weight", Shape: []int{l.Out, l.In}, Trainable: true, Decay: true},
				ParamSpec{Name: l.Name + ".bias", Shape: []int{l.Out}, Trainable: true})
		}
	}
	return ps
}

// Init returns freshly initialised weights for the architecture, drawn
// from rng: He-normal convolutions, PyTorch's default uniform linear
// layer, zero biases, identity batch norm.
func (a Arch) Init(rng *rand.Rand) []Tensor {
	specs := a.Params()
	out := make([]Tensor, len(specs))
	for i, s := range specs {
		t := Tensor{Name: s.Name, Shape: append([]int(nil), s.Shape...), Data: make([]float32, shapeSize(s.Shape))}
		switch {
		case strings.HasSuffix(s.Name, ".weight") && len(s.Shape) == 4:
			std := math.Sqrt(2 / float64(s.Shape[1]*s.Shape[2]*s.Shape[3]))
			for j := range t.Data {
				t.Data[j] = float32(rng.NormFloat64() * std)
			}
		case strings.HasSuffix(s.Name, ".weight") && len(s.Shape) == 2:
			bound := 1 / math.Sqrt(float64(s.Shape[1]))
			for j := range t.Data {
				t.Data[j] = float32((rng.Float64()*2 - 1) * bound)
			}
		case strings.HasSuffix(s.Name, ".running_var"), strings.HasPrefix(s.Name, "bn") && strings.HasSuffix(s.Name, ".weight"):
			for j := range t.Data {
				t.Data[j] = 1
			}
		}
		out[i] = t
	}
	return out
}

// checkWeights verifies that ws holds exactly the architecture's tensors,
// in order, with the right shapes.
func (a Arch) checkWeights(ws []Tensor) error {
	specs := a.Params()
	byName := make(map[string]Tensor, len(ws))
	for _, t := range ws {
		byName[t.Name] = t
	}
	for _, s := range specs {
		t, ok := byName[s.Name]
		if !ok {
			return fmt.Errorf("architecture %s needs tensor %q, which is missing", a.Name, s.Name)
		}
		if !equalShape(t.Shape, s.Shape) {
			return fmt.Errorf("tensor %q has shape %v, architecture %s needs %v", s.Name, t.Shape, a.Name, s.Shape)
		}
		if len(t.Data) != shapeSize(s.Shape) {
			return fmt.Errorf("tensor %q has %d values, shape %v needs %d", s.Name, len(t.Data), s.Shape, shapeSize(s.Shape))
		}
	}
	if len(ws) != len(specs) {
		for _, t := range ws {
			if !containsSpec(specs, t.Name) {
				return fmt.Errorf("tensor %q is not part of architecture %s", t.Name, a.Name)
			}
		}
		return fmt.Errorf("got %d tensors, architecture %s has %d (duplicates?)", len(ws), a.Name, len(specs))
	}
	return nil
}

// ordered returns ws rearranged in the architecture's parameter order.
func (a Arch) ordered(ws []Tensor) []Tensor {
	byName := make(map[string]Tensor, len(ws))
	for _, t := range ws {
		byName[t.Name] = t
	}
	specs := a.Params()
	out := make([]Tensor, len(specs))
	for i, s := range specs {
		out[i] = byName[s.Name]
	}
	return out
}

func containsSpec(specs []ParamSpec, name string) bool {
	for _, s := range specs {
		if s.Name == name {
			return true
		}
	}
	return false
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
