package kernels

import "math"

// Batch-norm + ReLU loops over one (image, channel) plane. On amd64 with
// AVX2 the bulk of each plane (a multiple of 8 values) runs in assembly,
// eight lanes at a time; the rest, and every other machine, runs the Go
// loops below, which keep four accumulators so the adder is not waiting on
// one chain. The elementwise results of both are bit-identical (same
// operations, same order, no fused multiply-add); the sums differ in the
// order they add, as any parallel sum does.

// ShiftedSums returns Σ(x-k) and Σ(x-k)² over x. Shifting by a value near
// the mean keeps the one-pass variance from cancelling.
func ShiftedSums(x []float32, k float32) (s, sq float32) {
	n := simdLen(len(x))
	if n > 0 {
		s, sq = shiftedSumsSIMD(x[:n], k)
	}
	ts, tq := shiftedSumsGo(x[n:], k)
	return s + ts, sq + tq
}

// ScaleShiftReLU writes y = max(x*scale+shift, 0).
func ScaleShiftReLU(x, y []float32, scale, shift float32) {
	y = y[:len(x)]
	n := simdLen(len(x))
	if n > 0 {
		scaleShiftReLUSIMD(x[:n], y[:n], scale, shift)
	}
	scaleShiftReLUGo(x[n:], y[n:], scale, shift)
}

// BNReLUGradSums returns Σdz and Σdz·(x-mean), where dz is dy where the
// forward output max(x*scale+shift, 0) was positive and 0 elsewhere. The
// output is recomputed from x exactly as ScaleShiftReLU computed it, so it
// need not be kept or read back.
func BNReLUGradSums(x, dy []float32, scale, shift, mean float32) (sb, sg float32) {
	dy = dy[:len(x)]
	n := simdLen(len(x))
	if n > 0 {
		sb, sg = gradSumsSIMD(x[:n], dy[:n], scale, shift, mean)
	}
	tb, tg := gradSumsGo(x[n:], dy[n:], scale, shift, mean)
	return sb + tb, sg + tg
}

// BNReLUInputGrad writes dx = k·dz - a·x - b, dz as in BNReLUGradSums.
func BNReLUInputGrad(x, dy, dx []float32, scale, shift, k, a, b float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	n := simdLen(len(x))
	if n > 0 {
		inputGradSIMD(x[:n], dy[:n], dx[:n], scale, shift, k, a, b)
	}
	inputGradGo(x[n:], dy[n:], dx[n:], scale, shift, k, a, b)
}

// simdLen is how many leading values the assembly loops take: a multiple
// of 8, or 0 without AVX2.
func simdLen(n int) int {
	if !haveAVX2 {
		return 0
	}
	return n &^ 7
}

// relu clamps v at zero without a branch (the sign is random, so a branch
// mispredicts on half the values). -0 and +0 both give +0.
func relu(v float32) float32 {
	b := math.Float32bits(v)
	return math.Float32frombits(b &^ uint32(int32(b)>>31))
}

// reluGrad is dy where y = relu(·) is positive, else 0, without a branch.
// y is never negative, so y > 0 exactly when its bits are not 0.
func reluGrad(y, dy float32) float32 {
	mask := uint32(int32(-math.Float32bits(y)) >> 31)
	return math.Float32frombits(math.Float32bits(dy) & mask)
}

func shiftedSumsGo(x []float32, k float32) (s, sq float32) {
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

func scaleShiftReLUGo(x, y []float32, scale, shift float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = relu(v*scale + shift)
	}
}

func gradSumsGo(x, dy []float32, scale, shift, mean float32) (sb, sg float32) {
	dy = dy[:len(x)]
	var b0, b1, b2, b3, g0, g1, g2, g3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		x0, x1, x2, x3 := x[i], x[i+1], x[i+2], x[i+3]
		z0, z1 := reluGrad(relu(x0*scale+shift), dy[i]), reluGrad(relu(x1*scale+shift), dy[i+1])
		z2, z3 := reluGrad(relu(x2*scale+shift), dy[i+2]), reluGrad(relu(x3*scale+shift), dy[i+3])
		b0, b1, b2, b3 = b0+z0, b1+z1, b2+z2, b3+z3
		g0 += z0 * (x0 - mean)
		g1 += z1 * (x1 - mean)
		g2 += z2 * (x2 - mean)
		g3 += z3 * (x3 - mean)
	}
	for ; i < len(x); i++ {
		z := reluGrad(relu(x[i]*scale+shift), dy[i])
		b0 += z
		g0 += z * (x[i] - mean)
	}
	return (b0 + b1) + (b2 + b3), (g0 + g1) + (g2 + g3)
}

func inputGradGo(x, dy, dx []float32, scale, shift, k, a, b float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		dx[i] = k*reluGrad(relu(v*scale+shift), dy[i]) - a*v - b
	}
}

// BNReLUPool2x2 is ScaleShiftReLU followed by a 2x2 max-pool (stride 2) over
// one plane of width w (even, as is the height): y gets each window's
// largest max(x*scale+shift, 0) and arg the winning pixel's index in the
// plane, the first of equal values as MaxPoolForward. ReLU is monotonic, so
// the window's largest x*scale+shift is clamped instead of all four. With
// AVX2 eight windows are compared at a time, without branches: the winner
// is random, so branches mispredicted about half the time.
func BNReLUPool2x2(x, y []float32, arg []int32, w int, scale, shift float32) {
	ow := w / 2
	for oy := range len(y) / ow {
		i0, i1 := 2*oy*w, (2*oy+1)*w
		r0, r1 := x[i0:i0+w], x[i1:i1+w]
		yr, ar := y[oy*ow:(oy+1)*ow], arg[oy*ow:(oy+1)*ow]
		n := simdLen(ow)
		if n > 0 {
			pool2x2SIMD(r0[:2*n], r1[:2*n], yr[:n], ar[:n], scale, shift, int32(i0), int32(i1))
		}
		for ox := n; ox < ow; ox++ {
			j := 2 * ox
			best, bi := r0[j]*scale+shift, i0+j
			if t := r0[j+1]*scale + shift; t > best {
				best, bi = t, i0+j+1
			}
			if t := r1[j]*scale + shift; t > best {
				best, bi = t, i1+j
			}
			if t := r1[j+1]*scale + shift; t > best {
				best, bi = t, i1+j+1
			}
			yr[ox] = relu(best)
			ar[ox] = int32(bi)
		}
	}
}

// Affine writes y = x*a + b (multiply, then add, as the Go loop rounds).
func Affine(x, y []float32, a, b float32) {
	y = y[:len(x)]
	n := simdLen(len(x))
	if n > 0 {
		affineSIMD(x[:n], y[:n], a, b)
	}
	for i := n; i < len(x); i++ {
		y[i] = x[i]*a + b
	}
}

// PooledBNReLUGrad is the batch-norm+ReLU gradient of one plane after a
// 2x2 max-pool (see BNReLUPool2x2): y and arg are the pooled outputs and
// winners, dy the pooled gradient. dz, the gradient of the ReLU output, is
// dy at each winner whose output is positive and 0 elsewhere. With dx nil
// it returns Σdz and Σdz·(x-mean); otherwise it writes dx = k·dz - a·x - b
// (returning zeros). Masks, not branches: positive outputs are random.
func PooledBNReLUGrad(x, y []float32, arg []int32, dy, dx []float32, mean, k, a, b float32) (sb, sg float32) {
	dy, arg = dy[:len(y)], arg[:len(y)]
	if dx == nil {
		for o, v := range y {
			dz := reluGrad(v, dy[o])
			sb += dz
			sg += dz * (x[arg[o]] - mean)
		}
		return sb, sg
	}
	Affine(x, dx, -a, -b)
	for o, v := range y {
		dx[arg[o]] += k * reluGrad(v, dy[o])
	}
	return 0, 0
}
