//go:build !(linux || darwin || freebsd)

package kernels

import (
	"fmt"
	"runtime"
)

func loadOpenBLAS() (sgemmFunc, error) {
	return nil, fmt.Errorf("openblas: run-time loading is not supported on %s", runtime.GOOS)
}
