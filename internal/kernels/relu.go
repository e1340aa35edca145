package kernels

// ReLUGrad writes dx = dy where y > 0 and 0 elsewhere: the backward pass of a
// ReLU fused into the op that produced y. The three slices have equal length
// (dx may be dy).
func ReLUGrad(y, dy, dx []float32) {
	const chunk = 1 << 14
	n := len(y)
	parallelFor((n+chunk-1)/chunk, func(_, lo, hi int) {
		a, b := lo*chunk, min(hi*chunk, n)
		ys, gs, out := y[a:b], dy[a:b], dx[a:b]
		for i, v := range ys {
			if v > 0 {
				out[i] = gs[i]
			} else {
				out[i] = 0
			}
		}
	})
}
