package ops

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/model-release/model-release/internal/kernels"
)

// kernelChoices are the two paths the model can run: gorgonia's own ops and
// this package's.
var kernelChoices = []string{"stock", "fast"}

// BenchmarkConvLayer times one conv layer's forward + backward (x, w and b
// gradients) through a tape machine, stock vs fast, for the CIFAR CNN's
// layer shapes. bench/kernels/run.sh prints the ratios.
func BenchmarkConvLayer(b *testing.B) {
	kernels.LogBackend(nil)
	for _, c := range []convCase{
		{64, 3, 32, 32, 32, 3, 1, 1},
		{64, 32, 16, 16, 64, 3, 1, 1},
		{64, 64, 8, 8, 128, 3, 1, 1},
	} {
		for _, kind := range kernelChoices {
			name := fmt.Sprintf("N%d_C%d_%dx%d_O%d/%s", c.n, c.c, c.h, c.w, c.o, kind)
			b.Run(name, func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 2))
				vals := []*tensor.Dense{randTensor(r, c.n, c.c, c.h, c.w), randTensor(r, c.o, c.c, c.k, c.k), randTensor(r, c.o)}
				oh, ow := (c.h+2*c.pad-c.k)/c.stride+1, (c.w+2*c.pad-c.k)/c.stride+1
				lg := newLossGraph(&testing.T{}, vals, randTensor(r, c.n, c.o, oh, ow), false, func(v []*gorgonia.Node) (*gorgonia.Node, error) {
					if kind == "stock" {
						return stockConv(v, c.k, c.stride, c.pad, false)
					}
					return Conv2d(v[0], v[1], v[2], c.stride, c.pad)
				})
				if _, err := gorgonia.Grad(lg.cost, lg.vars...); err != nil {
					b.Fatal(err)
				}
				m := gorgonia.NewTapeMachine(lg.g)
				defer m.Close()
				runSteps(b, c.n, func() error {
					defer m.Reset()
					return m.RunAll()
				})
			})
		}
	}
}

// BenchmarkTrainStep times a full SGD step (forward, backward, solver) of a
// representative CIFAR CNN: conv 3->32->64->128 (3x3, pad 1, ReLU), each
// followed by a 2x2 max pool, then a 2048->10 fully connected layer and
// softmax cross-entropy. It reports images/s and bytes allocated per step.
func BenchmarkTrainStep(b *testing.B) {
	kernels.LogBackend(nil)
	for _, batch := range []int{64, 128} {
		for _, kind := range kernelChoices {
			b.Run(fmt.Sprintf("batch%d/%s", batch, kind), func(b *testing.B) {
				m, learnables, err := buildCNN(batch, kind == "fast")
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				solver := gorgonia.NewVanillaSolver(gorgonia.WithLearnRate(0.01))
				runSteps(b, batch, func() error {
					defer m.Reset()
					if err := m.RunAll(); err != nil {
						return err
					}
					return solver.Step(gorgonia.NodesToValueGrads(learnables))
				})
			})
		}
	}
}

// runSteps runs step once to warm kept buffers, then b.N times, and reports
// images/s and MB allocated per step (runtime.MemStats, whole process).
func runSteps(b *testing.B, images int, step func() error) {
	b.Helper()
	if err := step(); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := step(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(images*b.N)/b.Elapsed().Seconds(), "img/s")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/1e6, "MB/step")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "allocs/step")
}

// buildCNN builds the benchmark network on stock or fast ops and a tape
// machine for it, returning the learnable nodes for the solver.
func buildCNN(batch int, fast bool) (gorgonia.VM, gorgonia.Nodes, error) {
	g := gorgonia.NewGraph()
	r := rand.New(rand.NewPCG(3, 4))
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(batch, 3, 32, 32), gorgonia.WithName("x"),
		gorgonia.WithValue(randTensor(r, batch, 3, 32, 32)))
	onehot := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(batch, 10))
	for i := 0; i < batch; i++ {
		onehot.Float32s()[i*10+r.IntN(10)] = 1
	}
	y := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(batch, 10), gorgonia.WithName("y"), gorgonia.WithValue(onehot))

	var learnables gorgonia.Nodes
	param := func(name string, shape ...int) *gorgonia.Node {
		n := gorgonia.NewTensor(g, tensor.Float32, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name),
			gorgonia.WithInit(gorgonia.GlorotN(1)))
		learnables = append(learnables, n)
		return n
	}
	h := x
	in := 3
	for i, out := range []int{32, 64, 128} {
		w, bias := param(fmt.Sprintf("w%d", i), out, in, 3, 3), param(fmt.Sprintf("b%d", i), out)
		var err error
		if fast {
			if h, err = Conv2dReLU(h, w, bias, 1, 1); err != nil {
				return nil, nil, err
			}
			if h, err = MaxPool2d(h, 2); err != nil {
				return nil, nil, err
			}
		} else {
			if h, err = stockConv(gorgonia.Nodes{h, w, bias}, 3, 1, 1, true); err != nil {
				return nil, nil, err
			}
			if h, err = gorgonia.MaxPool2D(h, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}); err != nil {
				return nil, nil, err
			}
		}
		in = out
	}
	flat, err := gorgonia.Reshape(h, tensor.Shape{batch, 128 * 4 * 4})
	if err != nil {
		return nil, nil, err
	}
	fw, fb := param("fc_w", 128*4*4, 10), param("fc_b", 1, 10)
	logits, err := gorgonia.Mul(flat, fw)
	if err != nil {
		return nil, nil, err
	}
	if logits, err = gorgonia.BroadcastAdd(logits, fb, nil, []byte{0}); err != nil {
		return nil, nil, err
	}
	logp, err := gorgonia.LogSoftMax(logits)
	if err != nil {
		return nil, nil, err
	}
	picked, err := gorgonia.HadamardProd(logp, y)
	if err != nil {
		return nil, nil, err
	}
	mean, err := gorgonia.Mean(picked)
	if err != nil {
		return nil, nil, err
	}
	cost, err := gorgonia.Neg(mean)
	if err != nil {
		return nil, nil, err
	}
	if _, err := gorgonia.Grad(cost, learnables...); err != nil {
		return nil, nil, err
	}
	return gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(learnables...)), learnables, nil
}
