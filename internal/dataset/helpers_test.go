package dataset

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"testing/fstest"
)

// Paths of the shipped sample, relative to this package.
var (
	sampleJPEGDir = filepath.Join("..", "..", "testdata", "cifar10-sample")
	sampleBinDir  = filepath.Join("..", "..", "testdata", "cifar10-sample-bin")
)

// treeFromDir reads a folder into a MapFS, keeping at most perFolder files
// of each folder (0: all), so tests can mutate a copy of the real sample.
func treeFromDir(t testing.TB, dir string, perFolder int) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	seen := map[string]int{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		parent := filepath.Dir(rel)
		if perFolder > 0 && seen[parent] >= perFolder {
			return nil
		}
		seen[parent]++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		m[rel] = &fstest.MapFile{Data: b, Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tarOf builds a tar (gzipped when gz) of a MapFS under prefix; folders
// get their own entries like a real tar.
func tarOf(t testing.TB, m fstest.MapFS, prefix string, gz bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var tw *tar.Writer
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(&buf)
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	dirs := map[string]bool{}
	for _, n := range names {
		full := n
		if prefix != "" {
			full = prefix + "/" + n
		}
		var parents []string
		for d := filepath.ToSlash(filepath.Dir(full)); d != "." && !dirs[d]; d = filepath.ToSlash(filepath.Dir(d)) {
			dirs[d] = true
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
		}
		f := m[n]
		if f.Mode.IsDir() {
			if err := tw.WriteHeader(&tar.Header{Name: full + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: full, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(f.Data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// pngOf encodes a w x h image whose pixel (x, y) is (x, y, x+y).
func pngOf(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x + y), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// record builds one binary record with every pixel set to v.
func record(label, v uint8) []byte {
	r := bytes.Repeat([]byte{v}, RecordBytes)
	r[0] = label
	return r
}

func mustLoadPath(t testing.TB, p string) *Dataset {
	t.Helper()
	d, err := LoadPath(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustSample(t testing.TB) *Dataset {
	t.Helper()
	d, err := Sample()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
