package registry

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

func TestDynamicRuntimeCarriesLoaderAndLibc(t *testing.T) {
	ls, err := exec.LookPath("ls")
	if err != nil {
		t.Skip("no ls on PATH to stand in for a dynamically linked binary")
	}
	es, err := dynamicRuntime(ls, runtime.GOOS, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name)
		if len(e.Data) == 0 {
			t.Errorf("%s copied empty", e.Name)
		}
	}
	all := strings.Join(names, " ")
	if !strings.Contains(all, "ld-linux") || !strings.Contains(all, "libc.so.6") {
		t.Errorf("runtime files %v lack the ELF loader or libc", names)
	}
}

func TestDynamicRuntimeRefusesOtherPlatforms(t *testing.T) {
	ls, err := exec.LookPath("ls")
	if err != nil {
		t.Skip("no ls on PATH")
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	if _, err := dynamicRuntime(ls, "linux", other); err == nil || !strings.Contains(err.Error(), "--base") {
		t.Errorf("dynamic binary for linux/%s: err = %v, want advice to give --base", other, err)
	}
}

func TestStaticAndNonELFBinariesNeedNothing(t *testing.T) {
	dir := t.TempDir()
	fake := dir + "/model-release"
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if es, err := dynamicRuntime(fake, runtime.GOOS, runtime.GOARCH); err != nil || len(es) != 0 {
		t.Errorf("non-ELF stand-in: %v, %v", es, err)
	}
}
