// Package ops wraps the kernels of internal/kernels as gorgonia ops, so a
// model keeps gorgonia's graph, symbolic differentiation and solvers but runs
// its convolutions and poolings in NCHW with batch-parallel, allocation-free
// kernels: Conv2d (bias included), Conv2dReLU, Conv2dOverData (a first layer:
// no input gradient), MaxPool2d and Linear.
//
// Each op owns its output and scratch buffers and reuses them every step:
// a value read from one of these nodes is valid until the next run of the
// machine, as with any buffer the machine reuses. An op instance runs one
// call at a time (its Workspace serialises them). Only float32 is supported;
// the stock gorgonia ops remain the float64 path.
//
// The ops implement symbolic differentiation (gorgonia.SDOp), which is what
// gorgonia.Grad and the tape machine use; the Lisp machine's DoDiff is not
// implemented.
package ops
