package dataset

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Size limits keep a hostile or corrupt archive from exhausting memory.
// The largest real file, a CIFAR-10 data batch, is 30.7 MB.
const (
	maxFileBytes  = 512 << 20
	maxImageBytes = 16 << 20
	maxEntries    = 2_000_000
)

// source is a read-only tree of files: a folder, the embedded sample, or
// an archive read into memory. Names are slash-separated and relative.
type source interface {
	// list returns the regular files and the folders, each sorted.
	list() (files, dirs []string)
	read(name string) ([]byte, error)
	// where names a file for error messages and descriptions.
	where(name string) string
}

// fsSource is a folder on disk or an embed.FS.
type fsSource struct {
	fsys        fs.FS
	label       string // shown before names: the folder path or "embedded sample"
	files, dirs []string
}

func newFSSource(fsys fs.FS, label string) (*fsSource, error) {
	s := &fsSource{fsys: fsys, label: label}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %s: %w", s.where(p), err)
		}
		if p == "." {
			return nil
		}
		if hidden(p) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case d.IsDir():
			s.dirs = append(s.dirs, p)
		case d.Type().IsRegular():
			s.files = append(s.files, p)
		}
		if len(s.files)+len(s.dirs) > maxEntries {
			return fmt.Errorf("%s: more than %d files", label, maxEntries)
		}
		return nil
	})
	return s, err
}

func (s *fsSource) list() (files, dirs []string) { return s.files, s.dirs }

func (s *fsSource) read(name string) ([]byte, error) {
	f, err := s.fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.where(name), err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.where(name), err)
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB", s.where(name), maxFileBytes>>20)
	}
	return b, nil
}

func (s *fsSource) where(name string) string {
	if name == "." || name == "" {
		return s.label
	}
	return s.label + "/" + name
}

// memSource is an archive whose relevant files were read into memory (a
// .tar.gz cannot be read out of order).
type memSource struct {
	label string
	data  map[string][]byte
	files []string
	dirs  []string
}

func (s *memSource) list() (files, dirs []string) { return s.files, s.dirs }

func (s *memSource) read(name string) ([]byte, error) {
	b, ok := s.data[name]
	if !ok {
		return nil, fmt.Errorf("%s: not in archive", s.where(name))
	}
	return b, nil
}

func (s *memSource) where(name string) string {
	if name == "." || name == "" {
		return s.label
	}
	return s.label + ":" + name
}

// wanted says which archive members are worth keeping in memory.
func wanted(name string) bool {
	b := path.Base(name)
	return isBinaryFile(name) || b == metaFile || isImageFile(name)
}

// readArchive reads a tar or tar.gz stream. label names it in errors. Only
// dataset files (batches, meta, images) are kept; others are listed so that
// stray files in class folders can be reported.
func readArchive(r io.Reader, label string) (*memSource, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, _ := br.Peek(2)
	cr := &countingReader{r: br}
	var tr *tar.Reader
	var zr *gzip.Reader
	if bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		var err error
		if zr, err = gzip.NewReader(cr); err != nil {
			return nil, fmt.Errorf("%s: not a readable gzip archive: %w", label, err)
		}
		defer zr.Close()
		tr = tar.NewReader(zr)
	} else {
		tr = tar.NewReader(cr)
	}
	s := &memSource{label: label, data: map[string][]byte{}}
	dirs := map[string]bool{}
	addParents := func(p string) {
		for d := path.Dir(p); d != "." && d != "/" && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	entries, last := 0, "(none)"
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: corrupt or truncated archive near byte %d, after entry %d (%s): %w", label, cr.n, entries, last, err)
		}
		if entries++; entries > maxEntries {
			return nil, fmt.Errorf("%s: more than %d entries", label, maxEntries)
		}
		name, ok := cleanName(h.Name)
		if !ok {
			return nil, fmt.Errorf("%s: entry %d has unsafe path %q", label, entries, h.Name)
		}
		last = h.Name
		if name == "" || hidden(name) {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			dirs[name] = true
			addParents(name)
			continue
		case tar.TypeReg:
		default:
			continue // links, devices: never dataset content
		}
		addParents(name)
		if _, dup := s.data[name]; dup {
			return nil, fmt.Errorf("%s: %s appears twice", label, name)
		}
		if !wanted(name) {
			s.data[name] = nil
			s.files = append(s.files, name)
			continue
		}
		limit := int64(maxFileBytes)
		if isImageFile(name) {
			limit = maxImageBytes
		}
		if h.Size > limit {
			return nil, fmt.Errorf("%s: %s is %d bytes, more than the %d MiB allowed", label, name, h.Size, limit>>20)
		}
		// Size the buffer from the header, but only up to 8 MiB: a corrupt
		// header must not make a tiny archive allocate hundreds of MiB.
		buf := bytes.NewBuffer(make([]byte, 0, min(h.Size, 8<<20)))
		_, err = buf.ReadFrom(tr)
		b := buf.Bytes()
		if err != nil {
			return nil, fmt.Errorf("%s: reading %s (entry %d, near byte %d): corrupt or truncated archive: %w", label, name, entries, cr.n, err)
		}
		s.data[name] = b
		s.files = append(s.files, name)
	}
	if zr != nil {
		// tar stops at its end marker; gzip checks its CRC only at the end
		// of the stream, so read to the end or a corrupt byte goes unseen.
		if _, err := io.Copy(io.Discard, io.LimitReader(zr, maxFileBytes)); err != nil {
			return nil, fmt.Errorf("%s: corrupt archive (gzip checksum or trailer, near byte %d): %w", label, cr.n, err)
		}
	}
	for d := range dirs {
		s.dirs = append(s.dirs, d)
	}
	sort.Strings(s.files)
	sort.Strings(s.dirs)
	return s, nil
}

// countingReader counts the archive bytes consumed, to say where it broke.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// cleanName makes a tar member name relative and canonical; ok is false
// for names that climb out of the archive.
func cleanName(n string) (string, bool) {
	n = strings.TrimLeft(strings.ReplaceAll(n, "\\", "/"), "/")
	if n == "" {
		return "", true
	}
	n = path.Clean(n)
	if n == "." {
		return "", true
	}
	if n == ".." || strings.HasPrefix(n, "../") {
		return "", false
	}
	return n, true
}

// hidden reports dot-files and macOS archive litter (._x.jpg, __MACOSX/),
// which are never dataset content.
func hidden(p string) bool {
	for _, c := range strings.Split(p, "/") {
		if (strings.HasPrefix(c, ".") && c != "." && c != "..") || c == "__MACOSX" {
			return true
		}
	}
	return false
}

// parallel runs f(0..n-1) on runtime.NumCPU() goroutines.
func parallel(n int, f func(i int)) {
	workers := min(runtime.NumCPU(), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	const chunk = 64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				lo := next
				next += chunk
				mu.Unlock()
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					f(i)
				}
			}
		}()
	}
	wg.Wait()
}
