// Package kernels holds the compute kernels behind the fast training path: a
// single-precision GEMM with two backends (OpenBLAS loaded at run time
// through purego, or pure Go), im2col, NCHW convolution forward and backward
// (the input gradient of a stride-1 convolution is itself a convolution, so
// no col2im scatter on the hot path), non-overlapping max pooling with a
// saved argmax, and the batch-norm+ReLU plane loops (AVX2 assembly on amd64,
// Go elsewhere).
//
// Every kernel splits its batch across Threads() workers, each of which
// calls a single-threaded SGEMM: the gorgonia graph runs one op at a time, so
// the parallelism has to live inside the op. The workers persist between
// calls (they spin briefly, then sleep), since a training step is some forty
// short parallel regions in a row. Nothing here imports gorgonia;
// internal/model/ops wraps these kernels as graph ops.
package kernels
