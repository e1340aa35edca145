package train

import (
	"fmt"
	"math"
)

// optimizer updates weights in place from their gradients. It is written
// here rather than taken from gorgonia because gorgonia's Momentum solver
// applies L2 to the velocity (GORGONIA.md), and because its state must go
// into checkpoints.
type optimizer struct {
	kind     string // "sgd" or "adamw"
	momentum float64
	decay    float64
	steps    int         // updates taken (Adam bias correction)
	m, v     [][]float32 // SGD velocity in m; Adam first and second moments
}

const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

func newOptimizer(kind string, momentum, decay float64, sizes []int) (*optimizer, error) {
	if kind != "sgd" && kind != "adamw" {
		return nil, fmt.Errorf("unknown optimizer %q: want sgd or adamw", kind)
	}
	o := &optimizer{kind: kind, momentum: momentum, decay: decay}
	for _, n := range sizes {
		o.m = append(o.m, make([]float32, n))
		if kind == "adamw" {
			o.v = append(o.v, make([]float32, n))
		}
	}
	return o, nil
}

// step applies one update with learning rate lr. decays[i] says whether
// weight decay applies to params[i]. SGD follows PyTorch: the decay is
// added to the gradient before momentum. AdamW decays the weights directly
// (decoupled), as in Loshchilov & Hutter.
func (o *optimizer) step(params, grads [][]float32, decays []bool, lr float64) {
	o.steps++
	switch o.kind {
	case "sgd":
		mu, lr32 := float32(o.momentum), float32(lr)
		for i, p := range params {
			g, buf := grads[i], o.m[i]
			wd := float32(0)
			if decays[i] {
				wd = float32(o.decay)
			}
			for j := range p {
				d := g[j] + wd*p[j]
				buf[j] = mu*buf[j] + d
				p[j] -= lr32 * buf[j]
			}
		}
	case "adamw":
		c1 := 1 - math.Pow(adamBeta1, float64(o.steps))
		c2 := 1 - math.Pow(adamBeta2, float64(o.steps))
		stepSize := float32(lr / c1)
		sqrtC2 := float32(math.Sqrt(c2))
		for i, p := range params {
			g, m, v := grads[i], o.m[i], o.v[i]
			keep := float32(1)
			if decays[i] {
				keep = float32(1 - lr*o.decay)
			}
			for j := range p {
				m[j] = adamBeta1*m[j] + (1-adamBeta1)*g[j]
				v[j] = adamBeta2*v[j] + (1-adamBeta2)*g[j]*g[j]
				denom := float32(math.Sqrt(float64(v[j])))/sqrtC2 + adamEps
				p[j] = p[j]*keep - stepSize*m[j]/denom
			}
		}
	}
}

// schedule returns the learning rate for step s (0-based) of total steps.
//   - constant: peak all along.
//   - cosine: linear warm-up from 0 over warmup steps, then cosine to 0.
//   - onecycle: PyTorch's OneCycleLR defaults: cosine up from peak/25 over
//     the first 30% of steps, then cosine down to peak/25/1e4.
func schedule(kind string, peak float64, s, total, warmup int) float64 {
	if total < 1 {
		total = 1
	}
	cosine := func(from, to, frac float64) float64 {
		return to + (from-to)*(1+math.Cos(math.Pi*math.Min(math.Max(frac, 0), 1)))/2
	}
	switch kind {
	case "cosine":
		if s < warmup {
			return peak * float64(s+1) / float64(warmup)
		}
		return cosine(peak, 0, float64(s-warmup)/float64(max(total-warmup, 1)))
	case "onecycle":
		initial := peak / 25
		final := initial / 1e4
		up := math.Max(0.3*float64(total)-1, 1)
		if float64(s) <= up {
			return cosine(initial, peak, float64(s)/up)
		}
		return cosine(peak, final, (float64(s)-up)/math.Max(float64(total-1)-up, 1))
	}
	return peak
}
