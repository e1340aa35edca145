// Package gpu runs model-release's training kernels on an NVIDIA GPU without
// cgo: the CUDA driver API (libcuda.so.1, from the host driver) and cuBLAS
// (libcublas.so.12, from the CUDA runtime image) are opened at run time with
// purego, so one CGO_ENABLED=0 binary serves CPU-only and GPU machines alike.
// Nothing here imports gorgonia.org/cu, which exits the process at init when
// no GPU is present.
//
// A CUDA context belongs to one OS thread, so a Device owns a goroutine locked
// to its thread (an executor) and every CUDA and cuBLAS call runs there.
// Matrices stay row-major on the Go side; the cuBLAS call is mapped to column
// major by swapping the operands (see colMajor).
//
// Data movement, first version: every operation copies its inputs to the
// device and its result back (weights included), reusing device buffers kept
// per slot so that a training step does not allocate. The plan for keeping
// weights and activations resident is to key device buffers by the host
// tensors of the gorgonia graph (the solver updates weights in place, so a
// weight copy can be skipped until the solver step marks it dirty) and to
// copy only the input batch in and the loss and metrics out.
package gpu
