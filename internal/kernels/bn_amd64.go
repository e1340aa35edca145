package kernels

import "golang.org/x/sys/cpu"

// haveAVX2 enables the assembly loops (AVX2 and FMA, with the OS saving
// the YMM registers, which cpu checks).
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// Implemented in bn_amd64.s; len(x) is a multiple of 8 and the other
// slices are at least as long.

//go:noescape
func shiftedSumsSIMD(x []float32, k float32) (s, sq float32)

//go:noescape
func scaleShiftReLUSIMD(x, y []float32, scale, shift float32)

//go:noescape
func gradSumsSIMD(x, dy []float32, scale, shift, mean float32) (sb, sg float32)

//go:noescape
func inputGradSIMD(x, dy, dx []float32, scale, shift, k, a, b float32)

//go:noescape
func pool2x2SIMD(r0, r1, y []float32, arg []int32, scale, shift float32, base0, base1 int32)

//go:noescape
func affineSIMD(x, y []float32, a, b float32)
