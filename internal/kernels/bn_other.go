//go:build !amd64

package kernels

// No assembly here: simdLen is always 0 and these are never called.
var haveAVX2 = false

func shiftedSumsSIMD([]float32, float32) (float32, float32) { panic("kernels: no SIMD") }
func scaleShiftReLUSIMD(_, _ []float32, _, _ float32)       { panic("kernels: no SIMD") }
func gradSumsSIMD(_, _ []float32, _, _, _ float32) (float32, float32) {
	panic("kernels: no SIMD")
}
func inputGradSIMD(_, _, _ []float32, _, _, _, _, _ float32) { panic("kernels: no SIMD") }

func pool2x2SIMD(_, _, _ []float32, _ []int32, _, _ float32, _, _ int32) { panic("kernels: no SIMD") }

func affineSIMD(_, _ []float32, _, _ float32) { panic("kernels: no SIMD") }
