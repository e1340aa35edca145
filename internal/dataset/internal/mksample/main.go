// Command mksample regenerates the CIFAR-10 sample shipped in testdata/ and
// embedded in the binary (see the root package's SampleFS).
//
// From a tar.gz of the image-folder layout (train/<class>/NNNN.jpg), it takes
// per class, in file-name order, the first 50 images as the train split and
// the next 10 as the test split, and writes them twice:
//
//   - testdata/cifar10-sample/{train,test}/<class>/*.jpg: the JPEG files,
//     byte for byte;
//   - testdata/cifar10-sample-bin/cifar-10-batches-bin/: data_batch_1.bin,
//     test_batch.bin and batches.meta.txt in the CIFAR-10 binary format,
//     decoded from those JPEGs with the decoder package dataset uses, so both
//     layouts load to identical pixels (and the same dataset digest).
//
// Run from the repository root:
//
//	go run ./internal/dataset/internal/mksample -src /work/shared/data/cifar10-train-jpeg.tar.gz
//
// The output is deterministic: the same archive gives the same files.
package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/model-release/model-release/internal/dataset/internal/imgdecode"
)

func main() {
	src := flag.String("src", "/work/shared/data/cifar10-train-jpeg.tar.gz", "tar.gz with train/<class>/*.jpg")
	out := flag.String("out", ".", "repository root to write testdata/ under")
	nTrain := flag.Int("train", 50, "train images per class")
	nTest := flag.Int("test", 10, "test images per class")
	flag.Parse()
	if err := run(*src, *out, *nTrain, *nTest); err != nil {
		fmt.Fprintln(os.Stderr, "mksample:", err)
		os.Exit(1)
	}
}

func run(src, out string, nTrain, nTest int) error {
	byClass, err := readJPEGs(src)
	if err != nil {
		return err
	}
	classes := make([]string, 0, len(byClass))
	for c := range byClass {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	if len(classes) != 10 {
		return fmt.Errorf("%s: %d classes %q under train/, want 10", src, len(classes), classes)
	}

	jpgRoot := filepath.Join(out, "testdata", "cifar10-sample")
	binDir := filepath.Join(out, "testdata", "cifar10-sample-bin", "cifar-10-batches-bin")
	for _, d := range []string{filepath.Join(jpgRoot, "train"), filepath.Join(jpgRoot, "test"), binDir} {
		if err := os.RemoveAll(d); err != nil { // no stale files from an older run
			return err
		}
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	var trainBin, testBin []byte
	for label, c := range classes {
		files := byClass[c]
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) < nTrain+nTest {
			return fmt.Errorf("class %s has %d images, need %d", c, len(names), nTrain+nTest)
		}
		for i, n := range names[:nTrain+nTest] {
			split, bin := "train", &trainBin
			if i >= nTrain {
				split, bin = "test", &testBin
			}
			dir := filepath.Join(jpgRoot, split, c)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, n), files[n], 0o644); err != nil {
				return err
			}
			rec := make([]byte, 1+imgdecode.Bytes)
			rec[0] = byte(label)
			if err := imgdecode.Into(rec[1:], files[n]); err != nil {
				return fmt.Errorf("%s: train/%s/%s: %w", src, c, n, err)
			}
			*bin = append(*bin, rec...)
		}
	}
	for name, b := range map[string][]byte{
		"data_batch_1.bin": trainBin,
		"test_batch.bin":   testBin,
		"batches.meta.txt": []byte(strings.Join(classes, "\n") + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(binDir, name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %d train and %d test images per class to %s and %s\n", nTrain, nTest, jpgRoot, binDir)
	return nil
}

// readJPEGs reads every train/<class>/<file>.jpg of the archive.
func readJPEGs(src string) (map[string]map[string][]byte, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	tr := tar.NewReader(zr)
	out := map[string]map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		c := strings.Split(path.Clean(h.Name), "/")
		if h.Typeflag != tar.TypeReg || len(c) != 3 || c[0] != "train" || strings.HasPrefix(c[2], ".") ||
			!strings.EqualFold(path.Ext(c[2]), ".jpg") {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", src, h.Name, err)
		}
		if out[c[1]] == nil {
			out[c[1]] = map[string][]byte{}
		}
		out[c[1]][c[2]] = b
	}
}
