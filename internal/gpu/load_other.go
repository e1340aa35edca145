//go:build !linux

package gpu

import (
	"fmt"
	"runtime"
)

func openDriver(name string) (*cuDriver, error) {
	return nil, fmt.Errorf("loading %s: the GPU path is only built for linux, not %s", name, runtime.GOOS)
}

func openCUBLAS(name string) (*cublasLib, error) {
	return nil, fmt.Errorf("loading %s: the GPU path is only built for linux, not %s", name, runtime.GOOS)
}
