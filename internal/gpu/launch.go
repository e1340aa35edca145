package gpu

import (
	_ "embed"
	"fmt"
	"unsafe"
)

//go:embed kernels.ptx
var kernelsPTX string

// kernelID indexes launchTable.
type kernelID int

const (
	kIm2col kernelID = iota
	kCol2im
	kBiasReLU
	kReLUGrad
	kMaxPoolFwd
	kMaxPoolBwd
	numKernels
)

// kernelSpec is how Go launches one PTX entry: its name and the type of
// each parameter, 'p' for a device pointer (.u64) and 'u' for a .u32.
type kernelSpec struct {
	name   string
	params string
}

// launchTable must match the .entry declarations of kernels.ptx, in names,
// parameter count and types; TestLaunchTableMatchesPTX checks it.
var launchTable = [numKernels]kernelSpec{
	kIm2col:     {"mr_im2col", "ppuuuuuuuuuu"},
	kCol2im:     {"mr_col2im", "ppuuuuuuuuuu"},
	kBiasReLU:   {"mr_bias_relu", "ppuuuuu"},
	kReLUGrad:   {"mr_relu_grad", "pppu"},
	kMaxPoolFwd: {"mr_maxpool_fwd", "pppuuuuuu"},
	kMaxPoolBwd: {"mr_maxpool_bwd", "pppuuuuuu"},
}

// threadsPerBlock is the block size of every 1-D launch.
const threadsPerBlock = 256

// maxLaunch bounds the elements of one launch: the kernels index in 32 bits.
const maxLaunch = 1<<31 - 1

// launchArgs packs kernel arguments as cuLaunchKernel wants them: an array
// of pointers, each to one argument's value. The values live in a Go heap
// slice (Go does not move heap objects), one 8-byte slot each; a .u32
// parameter reads the low 4 bytes of its slot (little endian).
type launchArgs struct {
	vals []uint64
	ptrs []unsafe.Pointer
}

// packArgs checks args against the kernel's parameter types and packs them.
func packArgs(k kernelID, args []uint64) (*launchArgs, error) {
	spec := launchTable[k]
	if len(args) != len(spec.params) {
		return nil, fmt.Errorf("kernel %s: got %d arguments, want %d", spec.name, len(args), len(spec.params))
	}
	la := &launchArgs{vals: make([]uint64, len(args)), ptrs: make([]unsafe.Pointer, len(args))}
	for i, a := range args {
		if spec.params[i] == 'u' && a > 1<<32-1 {
			return nil, fmt.Errorf("kernel %s: argument %d = %d does not fit 32 bits", spec.name, i, a)
		}
		la.vals[i] = a
	}
	for i := range la.vals {
		la.ptrs[i] = unsafe.Pointer(&la.vals[i])
	}
	return la, nil
}

// grid is the number of blocks that cover total elements.
func grid(total int) uint32 {
	return uint32((total + threadsPerBlock - 1) / threadsPerBlock)
}
