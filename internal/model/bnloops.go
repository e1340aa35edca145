package model

import "math"

// The batch-norm loops below run over one (image, channel) plane at a time.
// Go does not vectorise, so each keeps four independent accumulators: one
// float32 chain waits on the adder's latency, four keep it busy. ReLU is a
// sign mask instead of a branch, which mispredicts on half of the inputs.

// planeShiftedSums returns Σ(x-k) and Σ(x-k)² over one plane. Shifting by a
// value near the mean keeps the one-pass variance from cancelling.
func planeShiftedSums(x []float32, k float32) (s, sq float32) {
	var s0, s1, s2, s3, q0, q1, q2, q3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		d0, d1, d2, d3 := x[i]-k, x[i+1]-k, x[i+2]-k, x[i+3]-k
		s0, s1, s2, s3 = s0+d0, s1+d1, s2+d2, s3+d3
		q0, q1, q2, q3 = q0+d0*d0, q1+d1*d1, q2+d2*d2, q3+d3*d3
	}
	for ; i < len(x); i++ {
		d := x[i] - k
		s0 += d
		q0 += d * d
	}
	return (s0 + s1) + (s2 + s3), (q0 + q1) + (q2 + q3)
}

// relu clamps v at zero without a branch.
func relu(v float32) float32 {
	b := math.Float32bits(v)
	return math.Float32frombits(b &^ uint32(int32(b)>>31))
}

// planeScaleShiftReLU writes max(x*scale+shift, 0) into y.
func planeScaleShiftReLU(x, y []float32, scale, shift float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = relu(v*scale + shift)
	}
}

// planeGradSums returns Σdz and Σdz·(x-mean) over one plane, where dz is dy
// where the ReLU output y was positive and 0 elsewhere.
func planeGradSums(x, y, dy []float32, mean float32) (sb, sg float32) {
	y, dy = y[:len(x)], dy[:len(x)]
	var b0, b1, b2, b3, g0, g1, g2, g3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		z0, z1 := reluGrad(y[i], dy[i]), reluGrad(y[i+1], dy[i+1])
		z2, z3 := reluGrad(y[i+2], dy[i+2]), reluGrad(y[i+3], dy[i+3])
		b0, b1, b2, b3 = b0+z0, b1+z1, b2+z2, b3+z3
		g0 += z0 * (x[i] - mean)
		g1 += z1 * (x[i+1] - mean)
		g2 += z2 * (x[i+2] - mean)
		g3 += z3 * (x[i+3] - mean)
	}
	for ; i < len(x); i++ {
		z := reluGrad(y[i], dy[i])
		b0 += z
		g0 += z * (x[i] - mean)
	}
	return (b0 + b1) + (b2 + b3), (g0 + g1) + (g2 + g3)
}

// planeInputGrad writes dx = k·dz - a·x - b.
func planeInputGrad(x, y, dy, dx []float32, k, a, b float32) {
	y, dy, dx = y[:len(x)], dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		dx[i] = k*reluGrad(y[i], dy[i]) - a*v - b
	}
}
