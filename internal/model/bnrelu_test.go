package model

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/model-release/model-release/internal/model/ops"
)

// The fused op must match gorgonia's BatchNorm + scale/shift + Rectify
// (correct in float32 per GORGONIA.md) in output, all three gradients and
// the running statistics.
func TestBNReLUMatchesGorgonia(t *testing.T) {
	const n, c, h, w = 3, 4, 5, 5
	r := rand.New(rand.NewPCG(3, 4))
	randn := func(k int, scale, shift float64) []float32 {
		out := make([]float32, k)
		for i := range out {
			out[i] = float32(r.NormFloat64()*scale + shift)
		}
		return out
	}
	x0 := randn(n*c*h*w, 2, 0.5)
	gamma0, beta0 := randn(c, 0.3, 1), randn(c, 0.3, 0)
	weights := randn(n*c*h*w, 1, 0) // loss = sum(weights * y)

	type result struct{ y, dx, dg, db []float32 }
	run := func(fused bool) (result, []float32, []float32) {
		g := G.NewGraph()
		cp := func(v []float32) []float32 { return append([]float32(nil), v...) }
		x := G.NewTensor(g, G.Float32, 4, G.WithShape(n, c, h, w), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(n, c, h, w), tensor.WithBacking(cp(x0)))))
		gm := G.NewTensor(g, G.Float32, 4, G.WithShape(1, c, 1, 1), G.WithName("g"), G.WithValue(tensor.New(tensor.WithShape(1, c, 1, 1), tensor.WithBacking(cp(gamma0)))))
		bt := G.NewTensor(g, G.Float32, 4, G.WithShape(1, c, 1, 1), G.WithName("b"), G.WithValue(tensor.New(tensor.WithShape(1, c, 1, 1), tensor.WithBacking(cp(beta0)))))
		wt := G.NewTensor(g, G.Float32, 4, G.WithShape(n, c, h, w), G.WithName("w"), G.WithValue(tensor.New(tensor.WithShape(n, c, h, w), tensor.WithBacking(cp(weights)))))
		runMean, runVar := make([]float32, c), []float32{1, 1, 1, 1}
		var y *G.Node
		var op *G.BatchNormOp
		var err error
		if fused {
			y, err = bnReLU(x, gm, bt, runMean, runVar)
		} else {
			if y, _, _, op, err = G.BatchNorm(x, gm, bt, bnMomentum, bnEpsilon); err == nil {
				y, err = G.Rectify(y)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		loss := G.Must(G.Sum(G.Must(G.HadamardProd(y, wt))))
		grads, err := G.Grad(loss, x, gm, bt)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		get := func(nd *G.Node) []float32 { return cp(nd.Value().Data().([]float32)) }
		res := result{get(y), get(grads[0]), get(grads[1]), get(grads[2])}
		if !fused {
			m, v := op.Stats()
			runMean, runVar = cp(m.Data().([]float32)), cp(v.Data().([]float32))
		}
		return res, runMean, runVar
	}
	want, wm, wv := run(false)
	got, gmean, gvar := run(true)
	cmp := func(name string, a, b []float32, tol float64) {
		t.Helper()
		for i := range a {
			if d := math.Abs(float64(a[i] - b[i])); d > tol*(1+math.Abs(float64(b[i]))) {
				t.Fatalf("%s[%d] = %v, gorgonia gives %v", name, i, a[i], b[i])
			}
		}
	}
	cmp("y", got.y, want.y, 1e-5)
	cmp("dx", got.dx, want.dx, 1e-4)
	cmp("dgamma", got.dg, want.dg, 1e-4)
	cmp("dbeta", got.db, want.db, 1e-4)
	cmp("running mean", gmean, wm, 1e-5)
	cmp("running var", gvar, wv, 1e-5)
}

// The one-pass statistics shift by a sample value; they must stay accurate
// when the mean is far larger than the spread (the naive Σx² - (Σx)²/n
// loses every digit here in float32).
func TestBNReLUStatsWithLargeOffset(t *testing.T) {
	const n, c, hw = 4, 3, 37
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, n*c*hw)
	for i := range x {
		ch := (i / hw) % c
		x[i] = float32(1000*float64(ch+1) + 0.01*r.NormFloat64())
	}
	st := &bnState{n: n, c: c, hw: hw, runMean: make([]float32, c), runVar: make([]float32, c),
		mean: make([]float32, c), invStd: make([]float32, c), scale: make([]float32, c), shift: make([]float32, c), dGamma: make([]float32, c), dBeta: make([]float32, c)}
	ones, zeros := []float32{1, 1, 1}, make([]float32, c)
	val := func(v []float32, shape ...int) G.Value {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	if _, err := (&bnReLUOp{st}).Do(val(x, n, c, 1, hw), val(ones, 1, c, 1, 1), val(zeros, 1, c, 1, 1)); err != nil {
		t.Fatal(err)
	}
	for ch := 0; ch < c; ch++ {
		var sum, sq float64
		for i := 0; i < n; i++ {
			for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				sum += float64(v)
			}
		}
		mean := sum / (n * hw)
		for i := 0; i < n; i++ {
			for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				sq += (float64(v) - mean) * (float64(v) - mean)
			}
		}
		wantInv := 1 / math.Sqrt(sq/(n*hw)+bnEpsilon)
		if d := math.Abs(float64(st.mean[ch]) - mean); d > 1e-4 {
			t.Errorf("channel %d mean %v, want %v", ch, st.mean[ch], mean)
		}
		if d := math.Abs(float64(st.invStd[ch])-wantInv) / wantInv; d > 1e-2 {
			t.Errorf("channel %d 1/std %v, want %v (relative error %.2g)", ch, st.invStd[ch], wantInv, d)
		}
	}
}

// Batch norm + ReLU with the 2x2 max-pool inside gives the output,
// gradients and running statistics of bnReLU followed by MaxPool2d, over
// several steps (kept buffers), including windows whose values are all
// clamped to zero.
func TestBNReLUPoolMatchesSeparateOps(t *testing.T) {
	const n, c, h, w = 3, 4, 6, 4
	r := rand.New(rand.NewPCG(21, 22))
	randn := func(k int, scale, shift float64) []float32 {
		out := make([]float32, k)
		for i := range out {
			out[i] = float32(r.NormFloat64()*scale + shift)
		}
		return out
	}
	x0 := randn(n*c*h*w, 2, 0.5)
	gamma0, beta0 := randn(c, 0.3, 1), randn(c, 0.3, -0.4)
	gamma0[1] = -0.7 // a negative scale flips which pixel wins
	weights := randn(n*c*h*w/4, 1, 0)

	type result struct{ y, dx, dg, db, rm, rv []float32 }
	run := func(fused bool) result {
		g := G.NewGraph()
		cp := func(v []float32) []float32 { return append([]float32(nil), v...) }
		x := G.NewTensor(g, G.Float32, 4, G.WithShape(n, c, h, w), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(n, c, h, w), tensor.WithBacking(cp(x0)))))
		gm := G.NewTensor(g, G.Float32, 4, G.WithShape(1, c, 1, 1), G.WithName("g"), G.WithValue(tensor.New(tensor.WithShape(1, c, 1, 1), tensor.WithBacking(cp(gamma0)))))
		bt := G.NewTensor(g, G.Float32, 4, G.WithShape(1, c, 1, 1), G.WithName("b"), G.WithValue(tensor.New(tensor.WithShape(1, c, 1, 1), tensor.WithBacking(cp(beta0)))))
		wt := G.NewTensor(g, G.Float32, 4, G.WithShape(n, c, h/2, w/2), G.WithName("w"), G.WithValue(tensor.New(tensor.WithShape(n, c, h/2, w/2), tensor.WithBacking(cp(weights)))))
		rm, rv := make([]float32, c), []float32{1, 1, 1, 1}
		var y *G.Node
		var err error
		if fused {
			y, err = bnReLUPool(x, gm, bt, rm, rv)
		} else if y, err = bnReLU(x, gm, bt, rm, rv); err == nil {
			y, err = ops.MaxPool2d(y, 2)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := y.Shape(); !got.Eq(tensor.Shape{n, c, h / 2, w / 2}) {
			t.Fatalf("output shape %v", got)
		}
		loss := G.Must(G.Sum(G.Must(G.HadamardProd(y, wt))))
		grads, err := G.Grad(loss, x, gm, bt)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		defer vm.Close()
		var res result
		for range 3 {
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			get := func(nd *G.Node) []float32 { return cp(nd.Value().Data().([]float32)) }
			res = result{get(y), get(grads[0]), get(grads[1]), get(grads[2]), cp(rm), cp(rv)}
			vm.Reset()
		}
		return res
	}
	want, got := run(false), run(true)
	cmp := func(name string, a, b []float32) {
		t.Helper()
		if len(a) != len(b) {
			t.Fatalf("%s: %d values, want %d", name, len(a), len(b))
		}
		for i := range a {
			if d := math.Abs(float64(a[i] - b[i])); d > 1e-5*(1+math.Abs(float64(b[i]))) {
				t.Fatalf("%s[%d] = %v, separate ops give %v", name, i, a[i], b[i])
			}
		}
	}
	zeros := 0
	for _, v := range want.y {
		if v == 0 {
			zeros++
		}
	}
	if zeros == 0 {
		t.Fatal("test data has no all-clamped window")
	}
	cmp("y", got.y, want.y)
	cmp("dx", got.dx, want.dx)
	cmp("dgamma", got.dg, want.dg)
	cmp("dbeta", got.db, want.db)
	cmp("running mean", got.rm, want.rm)
	cmp("running var", got.rv, want.rv)
}
