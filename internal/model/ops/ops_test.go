package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/model-release/model-release/internal/kernels"
)

func randTensor(r *rand.Rand, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	d := t.Float32s()
	for i := range d {
		d[i] = float32(r.NormFloat64())
	}
	return t
}

// lossGraph builds cost = sum(y * r) over the output of layer, with x, w, b
// as variables holding the given values, and returns the cost and the
// gradients of every variable given.
type lossGraph struct {
	g     *gorgonia.ExprGraph
	vars  []*gorgonia.Node
	y     *gorgonia.Node
	prod  *gorgonia.Node // y*r; the machine may compute it in y's buffer
	cost  *gorgonia.Node
	grads gorgonia.Nodes
}

func newLossGraph(t *testing.T, vals []*tensor.Dense, r *tensor.Dense, withGrad bool,
	layer func(vars []*gorgonia.Node) (*gorgonia.Node, error)) *lossGraph {
	t.Helper()
	g := gorgonia.NewGraph()
	lg := &lossGraph{g: g}
	for i, v := range vals {
		lg.vars = append(lg.vars, gorgonia.NewTensor(g, tensor.Float32, v.Dims(),
			gorgonia.WithShape(v.Shape()...), gorgonia.WithValue(v), gorgonia.WithName(fmt.Sprintf("v%d", i))))
	}
	y, err := layer(lg.vars)
	if err != nil {
		t.Fatal(err)
	}
	lg.y = y
	rn := gorgonia.NewTensor(g, tensor.Float32, r.Dims(), gorgonia.WithShape(r.Shape()...), gorgonia.WithValue(r), gorgonia.WithName("r"))
	prod, err := gorgonia.HadamardProd(y, rn)
	if err != nil {
		t.Fatal(err)
	}
	lg.prod = prod
	if lg.cost, err = gorgonia.Sum(prod); err != nil {
		t.Fatal(err)
	}
	if withGrad {
		if lg.grads, err = gorgonia.Grad(lg.cost, lg.vars...); err != nil {
			t.Fatal(err)
		}
	}
	return lg
}

// run executes the graph steps times on one machine (so buffers kept by the
// ops are reused) and returns copies of y and the gradients.
func (lg *lossGraph) run(t *testing.T, steps int) (y []float32, grads [][]float32) {
	t.Helper()
	m := gorgonia.NewTapeMachine(lg.g)
	defer m.Close()
	for i := 0; i < steps; i++ {
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		y = copyValue(t, lg.y.Value())
		grads = grads[:0]
		for _, gn := range lg.grads {
			grads = append(grads, copyValue(t, gn.Value()))
		}
		m.Reset()
	}
	return y, grads
}

func copyValue(t *testing.T, v gorgonia.Value) []float32 {
	t.Helper()
	d, ok := v.(*tensor.Dense)
	if !ok {
		t.Fatalf("value is %T, want *tensor.Dense", v)
	}
	if d.RequiresIterator() {
		d = d.Materialize().(*tensor.Dense)
	}
	return append([]float32(nil), d.Float32s()[:d.Shape().TotalSize()]...)
}

func assertClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %g, want %g (diff %g)", what, i, got[i], want[i], d)
		}
	}
}

func stockConv(vars []*gorgonia.Node, k, stride, pad int, relu bool) (*gorgonia.Node, error) {
	x, w, b := vars[0], vars[1], vars[2]
	y, err := gorgonia.Conv2d(x, w, tensor.Shape{k, k}, []int{pad, pad}, []int{stride, stride}, []int{1, 1})
	if err != nil {
		return nil, err
	}
	b4, err := gorgonia.Reshape(b, tensor.Shape{1, b.Shape()[0], 1, 1})
	if err != nil {
		return nil, err
	}
	if y, err = gorgonia.BroadcastAdd(y, b4, nil, []byte{0, 2, 3}); err != nil {
		return nil, err
	}
	if relu {
		return gorgonia.Rectify(y)
	}
	return y, nil
}

type convCase struct{ n, c, h, w, o, k, stride, pad int }

var convCases = []convCase{
	{2, 3, 5, 7, 4, 3, 1, 1},
	{3, 2, 5, 7, 3, 3, 2, 1},
	{2, 4, 6, 6, 5, 3, 1, 0},
	{3, 3, 4, 5, 2, 1, 1, 0},
	{2, 3, 7, 5, 2, 1, 2, 0},
	{1, 2, 9, 8, 3, 5, 2, 2},
}

// TestConv2dMatchesStock checks values and all three gradients against
// gorgonia's own Conv2d + bias (+ Rectify), on both SGEMM backends, over two
// steps of one machine so kept buffers are exercised.
func TestConv2dMatchesStock(t *testing.T) {
	for _, be := range backends(t) {
		for _, relu := range []bool{false, true} {
			for _, c := range convCases {
				t.Run(fmt.Sprintf("%s/relu=%v/%+v", be, relu, c), func(t *testing.T) {
					useBackend(t, be)
					r := rand.New(rand.NewPCG(uint64(c.h*100+c.w), 7))
					x := randTensor(r, c.n, c.c, c.h, c.w)
					w := randTensor(r, c.o, c.c, c.k, c.k)
					b := randTensor(r, c.o)
					oh, ow := (c.h+2*c.pad-c.k)/c.stride+1, (c.w+2*c.pad-c.k)/c.stride+1
					rr := randTensor(r, c.n, c.o, oh, ow)
					vals := []*tensor.Dense{x, w, b}

					stock := newLossGraph(t, clones(vals), rr, true, func(v []*gorgonia.Node) (*gorgonia.Node, error) {
						return stockConv(v, c.k, c.stride, c.pad, relu)
					})
					fast := newLossGraph(t, clones(vals), rr, true, func(v []*gorgonia.Node) (*gorgonia.Node, error) {
						if relu {
							return Conv2dReLU(v[0], v[1], v[2], c.stride, c.pad)
						}
						return Conv2d(v[0], v[1], v[2], c.stride, c.pad)
					})
					if got, want := fast.y.Shape(), (tensor.Shape{c.n, c.o, oh, ow}); !got.Eq(want) {
						t.Fatalf("output shape %v, want %v", got, want)
					}
					wantY, wantG := stock.run(t, 1)
					gotY, gotG := fast.run(t, 2)
					assertClose(t, "y", gotY, wantY, 1e-4)
					for i, name := range []string{"dx", "dw", "db"} {
						assertClose(t, name, gotG[i], wantG[i], 1e-4)
					}
				})
			}
		}
	}
}

// TestConv2dBias4D checks a (1,O,1,1) bias, as internal/model shapes it,
// gives the same values and a gradient of the same shape.
func TestConv2dBias4D(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	x, w := randTensor(r, 2, 3, 5, 7), randTensor(r, 4, 3, 3, 3)
	b1 := randTensor(r, 4)
	b4 := b1.Clone().(*tensor.Dense)
	if err := b4.Reshape(1, 4, 1, 1); err != nil {
		t.Fatal(err)
	}
	rr := randTensor(r, 2, 4, 5, 7)
	conv := func(v []*gorgonia.Node) (*gorgonia.Node, error) { return Conv2d(v[0], v[1], v[2], 1, 1) }
	flat := newLossGraph(t, clones([]*tensor.Dense{x, w, b1}), rr, true, conv)
	four := newLossGraph(t, clones([]*tensor.Dense{x, w, b4}), rr, true, conv)
	if got := four.grads[2].Shape(); !got.Eq(tensor.Shape{1, 4, 1, 1}) {
		t.Fatalf("bias gradient shape %v, want (1, 4, 1, 1)", got)
	}
	wantY, wantG := flat.run(t, 1)
	gotY, gotG := four.run(t, 1)
	assertClose(t, "y", gotY, wantY, 0)
	for i := range wantG {
		assertClose(t, fmt.Sprintf("grad %d", i), gotG[i], wantG[i], 0)
	}
}

func clones(vals []*tensor.Dense) []*tensor.Dense {
	out := make([]*tensor.Dense, len(vals))
	for i, v := range vals {
		out[i] = v.Clone().(*tensor.Dense)
	}
	return out
}

// numericCheck compares the graph's gradients of every variable with central
// finite differences of the same graph's cost, accumulated in float64, at up
// to samples coordinates per variable.
func numericCheck(t *testing.T, vals []*tensor.Dense, rr *tensor.Dense, eps float64, samples int,
	layer func(vars []*gorgonia.Node) (*gorgonia.Node, error)) {
	t.Helper()
	lg := newLossGraph(t, vals, rr, true, layer)
	_, grads := lg.run(t, 1)

	fwd := newLossGraph(t, vals, rr, false, layer)
	m := gorgonia.NewTapeMachine(fwd.g)
	defer m.Close()
	cost := func() float64 {
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		defer m.Reset()
		// Sum y*r in float64 rather than trusting the float32 Sum.
		var acc float64
		for _, v := range copyValue(t, fwd.prod.Value()) {
			acc += float64(v)
		}
		return acc
	}
	r := rand.New(rand.NewPCG(11, 13))
	for vi, v := range vals {
		d := v.Float32s()
		for s := 0; s < min(samples, len(d)); s++ {
			i := s
			if len(d) > samples {
				i = r.IntN(len(d))
			}
			orig := d[i]
			d[i] = orig + float32(eps)
			up := cost()
			d[i] = orig - float32(eps)
			down := cost()
			d[i] = orig
			h := float64(orig+float32(eps)) - float64(orig-float32(eps))
			num := (up - down) / h
			if got := float64(grads[vi][i]); math.Abs(got-num) > 2e-3*(1+math.Abs(num)) {
				t.Fatalf("variable %d element %d: gradient %g, finite difference %g", vi, i, got, num)
			}
		}
	}
}

func TestConv2dNumericGradient(t *testing.T) {
	for _, c := range convCases {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(c.k), 3))
			oh, ow := (c.h+2*c.pad-c.k)/c.stride+1, (c.w+2*c.pad-c.k)/c.stride+1
			vals := []*tensor.Dense{randTensor(r, c.n, c.c, c.h, c.w), randTensor(r, c.o, c.c, c.k, c.k), randTensor(r, c.o)}
			// Conv is linear in each input, so a large step has no
			// truncation error and keeps float32 rounding small.
			numericCheck(t, vals, randTensor(r, c.n, c.o, oh, ow), 0.05, 25, func(v []*gorgonia.Node) (*gorgonia.Node, error) {
				return Conv2d(v[0], v[1], v[2], c.stride, c.pad)
			})
		})
	}
}

// distinctTensor fills a tensor with a shuffled ramp, so no two inputs of a
// pool window are within a finite-difference step of each other.
func distinctTensor(r *rand.Rand, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	d := t.Float32s()
	for i, j := range r.Perm(len(d)) {
		d[i] = float32(j)*0.1 - float32(len(d))*0.05
	}
	return t
}

var poolCases = []struct{ n, c, h, w, size int }{
	{2, 3, 5, 7, 2}, {1, 2, 6, 6, 3}, {3, 2, 8, 8, 2}, {2, 1, 4, 5, 1},
}

func TestMaxPool2dMatchesStock(t *testing.T) {
	for _, c := range poolCases {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(c.h*10+c.w), 1))
			x := randTensor(r, c.n, c.c, c.h, c.w)
			rr := randTensor(r, c.n, c.c, c.h/c.size, c.w/c.size)
			stock := newLossGraph(t, clones([]*tensor.Dense{x}), rr, true, func(v []*gorgonia.Node) (*gorgonia.Node, error) {
				return gorgonia.MaxPool2D(v[0], tensor.Shape{c.size, c.size}, []int{0, 0}, []int{c.size, c.size})
			})
			fast := newLossGraph(t, clones([]*tensor.Dense{x}), rr, true, func(v []*gorgonia.Node) (*gorgonia.Node, error) {
				return MaxPool2d(v[0], c.size)
			})
			wantY, wantG := stock.run(t, 1)
			gotY, gotG := fast.run(t, 2)
			assertClose(t, "y", gotY, wantY, 0)
			assertClose(t, "dx", gotG[0], wantG[0], 0)
		})
	}
}

func TestMaxPool2dNumericGradient(t *testing.T) {
	for _, c := range poolCases {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(c.size), 5))
			vals := []*tensor.Dense{distinctTensor(r, c.n, c.c, c.h, c.w)}
			numericCheck(t, vals, randTensor(r, c.n, c.c, c.h/c.size, c.w/c.size), 0.01, 40, func(v []*gorgonia.Node) (*gorgonia.Node, error) {
				return MaxPool2d(v[0], c.size)
			})
		})
	}
}

func TestOpsRejectBadInput(t *testing.T) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, 3, 4, 4), gorgonia.WithName("x"))
	w := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(2, 2, 3, 3), gorgonia.WithName("w"))
	b := gorgonia.NewTensor(g, tensor.Float32, 1, gorgonia.WithShape(2), gorgonia.WithName("b"))
	if _, err := Conv2d(x, w, b, 1, 1); err == nil {
		t.Fatal("want an error for 3 input channels against weights for 2")
	}
	x64 := gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(1, 3, 4, 4), gorgonia.WithName("x64"))
	if _, err := MaxPool2d(x64, 2); err == nil {
		t.Fatal("want an error for a float64 input")
	}
	if _, err := MaxPool2d(x, 5); err == nil {
		t.Fatal("want an error for a 5x5 window on a 4x4 input")
	}
}

func backends(t *testing.T) []string {
	names := []string{kernels.BackendGo}
	if ok, err := kernels.OpenBLASAvailable(); ok {
		names = append(names, kernels.BackendOpenBLAS)
	} else {
		t.Logf("openblas not tested: %v", err)
	}
	return names
}

func useBackend(t *testing.T, name string) {
	t.Helper()
	if err := kernels.UseBackend(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kernels.UseBackend("") })
}

// A convolution over data gives the same output and weight and bias
// gradients as Conv2d, builds no input-gradient op, and refuses a request
// for the input's gradient instead of returning a wrong one.
func TestConv2dOverDataSkipsInputGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x, w, b := randTensor(r, 3, 3, 6, 5), randTensor(r, 4, 3, 3, 3), randTensor(r, 4)
	rr := randTensor(r, 3, 4, 6, 5)
	for _, relu := range []bool{false, true} {
		plain := func(v []*gorgonia.Node) (*gorgonia.Node, error) { return conv2d(v[0], v[1], v[2], 1, 1, relu) }
		want := newLossGraph(t, clones([]*tensor.Dense{x, w, b}), rr, true, plain)
		wantY, wantG := want.run(t, 1)

		g := gorgonia.NewGraph()
		var vars []*gorgonia.Node
		for i, v := range clones([]*tensor.Dense{x, w, b, rr}) {
			vars = append(vars, gorgonia.NewTensor(g, tensor.Float32, v.Dims(), gorgonia.WithShape(v.Shape()...),
				gorgonia.WithValue(v), gorgonia.WithName(fmt.Sprintf("v%d", i))))
		}
		y := gorgonia.Must(Conv2dOverData(vars[0], vars[1], vars[2], 1, 1, relu))
		cost := gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(y, vars[3]))))
		if _, err := gorgonia.Grad(cost, vars[0]); err == nil {
			t.Fatal("gradient with respect to the data input: want an error")
		}
		grads, err := gorgonia.Grad(cost, vars[1], vars[2])
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range g.AllNodes() {
			if _, ok := n.Op().(*convDataOp); ok {
				t.Fatalf("relu=%v: graph has an input-gradient op %v", relu, n.Op())
			}
		}
		m := gorgonia.NewTapeMachine(g)
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		assertClose(t, "y", copyValue(t, y.Value()), wantY, 0)
		assertClose(t, "weight gradient", copyValue(t, grads[0].Value()), wantG[1], 0)
		assertClose(t, "bias gradient", copyValue(t, grads[1].Value()), wantG[2], 0)
		m.Close()
	}
}

// Linear matches gorgonia's Reshape + Mul(x, Transpose(w)) + BroadcastAdd
// in output and all three gradients, over several steps on one machine
// (kept buffers), and gives each row the same result alone as in a batch.
func TestLinearMatchesStock(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	x, w, b := randTensor(r, 3, 4, 2, 2), randTensor(r, 5, 16), randTensor(r, 1, 5)
	rr := randTensor(r, 3, 5)
	stock := func(v []*gorgonia.Node) (*gorgonia.Node, error) {
		flat, err := gorgonia.Reshape(v[0], tensor.Shape{3, 16})
		if err != nil {
			return nil, err
		}
		wt, err := gorgonia.Transpose(v[1])
		if err != nil {
			return nil, err
		}
		y, err := gorgonia.Mul(flat, wt)
		if err != nil {
			return nil, err
		}
		return gorgonia.BroadcastAdd(y, v[2], nil, []byte{0})
	}
	fast := func(v []*gorgonia.Node) (*gorgonia.Node, error) { return Linear(v[0], v[1], v[2]) }
	wantY, wantG := newLossGraph(t, clones([]*tensor.Dense{x, w, b}), rr, true, stock).run(t, 1)
	gotY, gotG := newLossGraph(t, clones([]*tensor.Dense{x, w, b}), rr, true, fast).run(t, 3)
	assertClose(t, "y", gotY, wantY, 1e-5)
	for i, name := range []string{"input", "weight", "bias"} {
		assertClose(t, name+" gradient", gotG[i], wantG[i], 1e-5)
	}
	// Row 1 alone equals row 1 of the batch, bit for bit.
	forward := func(in *tensor.Dense) []float32 {
		g := gorgonia.NewGraph()
		var vars []*gorgonia.Node
		for i, v := range clones([]*tensor.Dense{in, w, b}) {
			vars = append(vars, gorgonia.NewTensor(g, tensor.Float32, v.Dims(), gorgonia.WithShape(v.Shape()...),
				gorgonia.WithValue(v), gorgonia.WithName(fmt.Sprintf("v%d", i))))
		}
		y := gorgonia.Must(Linear(vars[0], vars[1], vars[2]))
		m := gorgonia.NewTapeMachine(g)
		defer m.Close()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		return copyValue(t, y.Value())
	}
	one := tensor.New(tensor.WithShape(1, 4, 2, 2), tensor.WithBacking(append([]float32(nil), x.Float32s()[16:32]...)))
	assertClose(t, "row alone", forward(one), forward(x)[5:10], 0)

	if _, err := Linear(gorgonia.NewTensor(gorgonia.NewGraph(), tensor.Float32, 2, gorgonia.WithShape(3, 7), gorgonia.WithName("x")),
		gorgonia.NewMatrix(gorgonia.NewGraph(), tensor.Float32, gorgonia.WithShape(5, 16), gorgonia.WithName("w")),
		gorgonia.NewMatrix(gorgonia.NewGraph(), tensor.Float32, gorgonia.WithShape(1, 5), gorgonia.WithName("b"))); err == nil {
		t.Fatal("7 values per row against weights for 16: want an error")
	}
}
