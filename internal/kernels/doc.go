// Package kernels holds the plain-Go compute kernels behind the fast training
// path: a single-precision GEMM with two backends (OpenBLAS loaded at run time
// through purego, or pure Go), im2col/col2im, NCHW convolution forward and
// backward, and non-overlapping max pooling with a saved argmax.
//
// Every kernel splits its batch across Threads() goroutines, each of which
// calls a single-threaded SGEMM: the gorgonia graph runs one op at a time, so
// the parallelism has to live inside the op. Nothing here imports gorgonia;
// internal/model/ops wraps these kernels as graph ops.
package kernels
