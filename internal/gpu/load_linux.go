//go:build linux

package gpu

import (
	"fmt"

	"github.com/ebitengine/purego"
)

func dlopen(name, what string) (uintptr, error) {
	lib, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return 0, fmt.Errorf("loading %s (%s): %w", name, what, err)
	}
	return lib, nil
}

// register binds each symbol; purego panics on a missing one, which is
// turned into an error naming the library and symbol.
func register(lib uintptr, libName string, syms map[string]any) (err error) {
	var current string
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s lacks %s (library too old?): %v", libName, current, r)
		}
	}()
	for name, fptr := range syms {
		current = name
		purego.RegisterLibFunc(fptr, lib, name)
	}
	return nil
}

func openDriver(name string) (*cuDriver, error) {
	lib, err := dlopen(name, "the NVIDIA driver's CUDA library; on a GPU runner it comes from the host driver through the NVIDIA container runtime")
	if err != nil {
		return nil, err
	}
	d := &cuDriver{}
	err = register(lib, name, map[string]any{
		"cuInit":                       &d.init,
		"cuDriverGetVersion":           &d.driverGetVersion,
		"cuDeviceGetCount":             &d.deviceGetCount,
		"cuDeviceGet":                  &d.deviceGet,
		"cuDeviceGetName":              &d.deviceGetName,
		"cuDeviceTotalMem_v2":          &d.deviceTotalMem,
		"cuDeviceGetAttribute":         &d.deviceGetAttribute,
		"cuDevicePrimaryCtxRetain":     &d.primaryCtxRetain,
		"cuDevicePrimaryCtxRelease_v2": &d.primaryCtxRelease,
		"cuCtxSetCurrent":              &d.ctxSetCurrent,
		"cuCtxSynchronize":             &d.ctxSynchronize,
		"cuMemAlloc_v2":                &d.memAlloc,
		"cuMemFree_v2":                 &d.memFree,
		"cuMemcpyHtoD_v2":              &d.memcpyHtoD,
		"cuMemcpyDtoH_v2":              &d.memcpyDtoH,
		"cuMemsetD32_v2":               &d.memsetD32,
		"cuModuleLoadData":             &d.moduleLoadData,
		"cuModuleUnload":               &d.moduleUnload,
		"cuModuleGetFunction":          &d.moduleGetFunction,
		"cuLaunchKernel":               &d.launchKernel,
		"cuGetErrorName":               &d.getErrorName,
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func openCUBLAS(name string) (*cublasLib, error) {
	lib, err := dlopen(name, "cuBLAS from the CUDA 12 runtime; use an nvidia/cuda:12.x-runtime based image")
	if err != nil {
		return nil, err
	}
	c := &cublasLib{}
	err = register(lib, name, map[string]any{
		"cublasCreate_v2":     &c.create,
		"cublasDestroy_v2":    &c.destroy,
		"cublasSetMathMode":   &c.setMathMode,
		"cublasGetVersion_v2": &c.getVersion,
		"cublasSgemm_v2":      &c.sgemm,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}
