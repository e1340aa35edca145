package dataset

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// FuzzParseRecords: any bytes either parse into consistent records or give
// an error; never a panic or a partial result.
func FuzzParseRecords(f *testing.F) {
	f.Add(record(0, 1))
	f.Add(append(record(9, 255), record(3, 0)...))
	f.Add(record(10, 1))
	f.Add(record(1, 1)[:RecordBytes-1])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		imgs, labels, err := ParseRecords("fuzz.bin", data, NumClasses)
		if err != nil {
			if imgs != nil || labels != nil {
				t.Fatal("partial result with an error")
			}
			return
		}
		if len(labels)*RecordBytes != len(data) || len(imgs) != len(labels)*ImageBytes {
			t.Fatalf("%d labels and %d image bytes from %d bytes", len(labels), len(imgs), len(data))
		}
		for i, l := range labels {
			if l >= NumClasses || l != data[i*RecordBytes] {
				t.Fatalf("record %d: label %d", i, l)
			}
		}
	})
}

// FuzzLoadArchive: any bytes given as a tar or tar.gz either load a valid
// dataset or give an error.
func FuzzLoadArchive(f *testing.F) {
	jpg := treeFromDir(f, filepath.Join("..", "..", "testdata", "cifar10-sample"), 1)
	bin := fstest.MapFS{
		"cifar-10-batches-bin/data_batch_1.bin": {Data: append(record(0, 1), record(9, 2)...)},
		"cifar-10-batches-bin/test_batch.bin":   {Data: record(5, 3)},
		"cifar-10-batches-bin/batches.meta.txt": {Data: []byte("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n")},
	}
	for _, seed := range [][]byte{
		tarOf(f, bin, "", false),
		tarOf(f, bin, "", true),
		tarOf(f, jpg, "", false),
		tarOf(f, jpg, "x", true),
	} {
		f.Add(seed)
		f.Add(seed[:len(seed)*2/3])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := LoadArchive(context.Background(), bytes.NewReader(data), "fuzz.tar")
		if err != nil {
			if d != nil {
				t.Fatal("dataset returned with an error")
			}
			return
		}
		if err := d.validate(); err != nil {
			t.Fatalf("loaded an invalid dataset: %v", err)
		}
	})
}

// BenchmarkLoadImageArchive measures decoding the sample's 600 JPEGs from a
// tar.gz (the per-image cost of loading a full image-folder dataset).
func BenchmarkLoadImageArchive(b *testing.B) {
	data := tarOf(b, treeFromDir(b, filepath.Join("..", "..", "testdata", "cifar10-sample"), 0), "", true)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := LoadArchive(context.Background(), bytes.NewReader(data), "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatch measures turning 128 images into a normalized NCHW batch.
func BenchmarkBatch(b *testing.B) {
	d, err := Sample()
	if err != nil {
		b.Fatal(err)
	}
	mean, std := d.Train.MeanStd()
	idx := d.Train.Permutation(1)[:128]
	dst := make([]float32, len(idx)*ImageBytes)
	for b.Loop() {
		d.Train.Batch(dst, idx, mean, std)
	}
}
