package registry

import (
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// A CGO_ENABLED=0 binary that uses purego (to dlopen OpenBLAS or CUDA at
// run time) is still dynamically linked: it names an ELF interpreter and
// libc. An image built from nothing must then carry those files, or the
// kernel cannot start the binary ("no such file or directory").

// libSearchDirs are where the building machine's loader finds libraries.
var libSearchDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/lib", "/usr/lib64", "/usr/lib"}

// dynamicRuntime returns the tar entries for the ELF interpreter and the
// shared libraries binPath needs, copied from this machine; none for a
// static binary. It refuses a dynamic binary for another platform, since
// this machine's libraries would not fit it: such images need a base.
func dynamicRuntime(binPath, goos, goarch string) ([]tarEntry, error) {
	head := make([]byte, 4)
	if r, err := os.Open(binPath); err != nil {
		return nil, fmt.Errorf("reading %s: %w", binPath, err)
	} else {
		_, _ = io.ReadFull(r, head)
		r.Close()
	}
	if string(head) != elf.ELFMAG {
		return nil, nil // not ELF (tests use stand-in binaries): nothing to add
	}
	f, err := elf.Open(binPath)
	if err != nil {
		return nil, nil // not a well-formed ELF file (test stand-ins): nothing to add
	}
	defer f.Close()
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return nil, fmt.Errorf("reading the ELF interpreter of %s: %w", binPath, err)
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if interp == "" {
		return nil, nil // static
	}
	if goos != runtime.GOOS || goarch != runtime.GOARCH {
		return nil, fmt.Errorf("the model-release binary for %s/%s is dynamically linked (%s) and this machine is %s/%s: give --base with a glibc image such as gcr.io/distroless/base-debian12",
			goos, goarch, interp, runtime.GOOS, runtime.GOARCH)
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return nil, fmt.Errorf("reading the libraries %s needs: %w", binPath, err)
	}
	entries := []tarEntry{}
	add := func(imagePath, hostPath string) error {
		data, err := os.ReadFile(hostPath) // follows symlinks: the image gets the file itself
		if err != nil {
			return fmt.Errorf("copying %s into the image (the binary needs it; or give --base with a glibc image): %w", hostPath, err)
		}
		entries = append(entries, tarEntry{Name: strings.TrimPrefix(imagePath, "/"), Mode: 0o755, Data: data})
		return nil
	}
	if err := add(interp, interp); err != nil {
		return nil, err
	}
	for _, lib := range libs {
		found := ""
		for _, dir := range libSearchDirs {
			if p := filepath.Join(dir, lib); fileExists(p) {
				found = p
				break
			}
		}
		if found == "" {
			return nil, fmt.Errorf("the model-release binary needs %s, which is not on this machine: give --base with a glibc image", lib)
		}
		if err := add(found, found); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
