package dataset

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestSampleIsTheShippedSample(t *testing.T) {
	var logs bytes.Buffer
	d, err := Load(context.Background(), "", WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Classes, DefaultClasses) {
		t.Errorf("classes = %q, want %q", d.Classes, DefaultClasses)
	}
	if d.Train.Len() != 500 || d.Test.Len() != 100 {
		t.Fatalf("sample has %d train / %d test images, want 500 / 100", d.Train.Len(), d.Test.Len())
	}
	for c, n := range d.Train.ClassCounts(NumClasses) {
		if n != 50 {
			t.Errorf("train class %s has %d images, want 50", d.Classes[c], n)
		}
	}
	for c, n := range d.Test.ClassCounts(NumClasses) {
		if n != 10 {
			t.Errorf("test class %s has %d images, want 10", d.Classes[c], n)
		}
	}
	if !strings.Contains(logs.String(), "embedded CIFAR-10 sample") {
		t.Errorf("loading the default did not log that it uses the sample; logs: %s", logs.String())
	}
	// Real photos: CIFAR-10's channel means are about 0.49, 0.48, 0.45.
	mean, std := d.Train.MeanStd()
	for c := 0; c < 3; c++ {
		if mean[c] < 0.35 || mean[c] > 0.6 || std[c] < 0.15 || std[c] > 0.35 {
			t.Errorf("channel %d mean/std = %.3f/%.3f, not like CIFAR-10 photos", c, mean[c], std[c])
		}
	}
	// Each call is a fresh copy: shuffling one must not change the next.
	d.Train.Shuffle(NewRand(1))
	if again := mustSample(t); bytes.Equal(again.Train.Images, d.Train.Images) {
		t.Error("Sample returned shared memory: a shuffle showed through")
	}
}

// The generator decodes the JPEGs with the loader's own decoder, so both
// layouts must hold identical pixels, in the same order, with the same
// digest.
func TestSampleLayoutsAgree(t *testing.T) {
	jpg := mustLoadPath(t, sampleJPEGDir)
	bin := mustLoadPath(t, sampleBinDir)
	emb := mustSample(t)
	if !slices.Equal(jpg.Classes, bin.Classes) {
		t.Fatalf("classes differ: jpeg %q, binary %q", jpg.Classes, bin.Classes)
	}
	for _, pair := range [][2]*Split{{jpg.Train, bin.Train}, {jpg.Test, bin.Test}} {
		a, b := pair[0], pair[1]
		if !slices.Equal(a.Labels, b.Labels) {
			t.Errorf("%s labels differ between layouts", a.Name)
		}
		if !bytes.Equal(a.Images, b.Images) {
			t.Errorf("%s pixels differ between layouts", a.Name)
		}
	}
	if jpg.Digest() != bin.Digest() || bin.Digest() != emb.Digest() {
		t.Errorf("digests differ: jpeg %s, binary %s, embedded %s", jpg.Digest(), bin.Digest(), emb.Digest())
	}
	if !strings.Contains(jpg.Source, "image folders") || !strings.Contains(bin.Source, "binary batches") {
		t.Errorf("sources not described: %q, %q", jpg.Source, bin.Source)
	}
}

func TestArchivesLoadLikeFolders(t *testing.T) {
	want := mustSample(t).Digest()
	jpgTree := treeFromDir(t, sampleJPEGDir, 0)
	binTree := treeFromDir(t, filepath.Join(sampleBinDir, "cifar-10-batches-bin"), 0)
	binTree["readme.html"] = &fstest.MapFile{Data: []byte("<html>")} // as in the real archive
	binTree["._data_batch_1.bin"] = &fstest.MapFile{Data: []byte("macOS litter")}
	cases := map[string][]byte{
		"images.tar.gz":                    tarOf(t, jpgTree, "", true),
		"images-in-a-folder.tgz":           tarOf(t, jpgTree, "cifar10", true),
		"images.tar":                       tarOf(t, jpgTree, "", false),
		"cifar-10-binary.tar.gz":           tarOf(t, binTree, "cifar-10-batches-bin", true),
		"cifar-10-binary-no-prefix.tar":    tarOf(t, binTree, "", false),
		"cifar-10-binary-dot-slash.tar.gz": tarOf(t, binTree, "./cifar-10-batches-bin", true),
	}
	dir := t.TempDir()
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := Load(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Digest(); got != want {
				t.Errorf("digest %s, want the sample's %s", got, want)
			}
			if !strings.Contains(d.Source, p) {
				t.Errorf("source %q does not name the archive", d.Source)
			}
		})
	}
}

func TestBinaryLayoutReadsBatchesInOrderAndMeta(t *testing.T) {
	m := fstest.MapFS{
		"b/data_batch_10.bin": {Data: record(3, 30)},
		"b/data_batch_2.bin":  {Data: append(record(2, 20), record(2, 21)...)},
		"b/data_batch_1.bin":  {Data: record(1, 10)},
		"b/batches.meta.txt":  {Data: []byte("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n")},
	}
	d, err := LoadFS(context.Background(), m, "t")
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint8{1, 2, 2, 3}; !slices.Equal(d.Train.Labels, want) {
		t.Errorf("labels %v, want %v (batches in numeric order)", d.Train.Labels, want)
	}
	if d.Train.Image(3)[0] != 30 || d.Test != nil {
		t.Errorf("image 3 starts with %d, want 30; test split %v, want nil", d.Train.Image(3)[0], d.Test)
	}
	if d.Classes[9] != "j" {
		t.Errorf("classes %q not from batches.meta.txt", d.Classes)
	}
}

func TestBadInputIsAnErrorNamingIt(t *testing.T) {
	sample := func() fstest.MapFS { return treeFromDir(t, sampleJPEGDir, 2) }
	cases := []struct {
		name  string
		tree  func() fstest.MapFS
		wants []string // all must appear in the error
	}{
		{"truncated record", func() fstest.MapFS {
			return fstest.MapFS{"data_batch_1.bin": {Data: append(record(0, 1), record(1, 2)[:100]...)}}
		}, []string{"data_batch_1.bin", "truncated record 1", "offset 3073"}},
		{"label outside 0..9", func() fstest.MapFS {
			return fstest.MapFS{"data_batch_1.bin": {Data: append(record(0, 1), record(10, 2)...)}}
		}, []string{"data_batch_1.bin", "record 1", "offset 3073", "label 10"}},
		{"empty batch file", func() fstest.MapFS {
			return fstest.MapFS{"data_batch_1.bin": {Data: nil}}
		}, []string{"data_batch_1.bin", "empty"}},
		{"bad test batch", func() fstest.MapFS {
			return fstest.MapFS{"data_batch_1.bin": {Data: record(0, 1)}, "test_batch.bin": {Data: record(200, 1)}}
		}, []string{"test_batch.bin", "label 200"}},
		{"only a test batch", func() fstest.MapFS {
			return fstest.MapFS{"test_batch.bin": {Data: record(0, 1)}}
		}, []string{"data_batch_N.bin"}},
		{"meta with 3 classes", func() fstest.MapFS {
			return fstest.MapFS{"data_batch_1.bin": {Data: record(0, 1)}, "batches.meta.txt": {Data: []byte("a\nb\nc\n")}}
		}, []string{"batches.meta.txt", "3 class names"}},
		{"image not 32x32", func() fstest.MapFS {
			m := sample()
			m["train/cat/big.png"] = &fstest.MapFile{Data: pngOf(t, 64, 48)}
			return m
		}, []string{"train/cat/big.png", "64x48"}},
		{"unreadable JPEG", func() fstest.MapFS {
			m := sample()
			m["test/dog/broken.jpg"] = &fstest.MapFile{Data: []byte("\xff\xd8\xff\xe0 not really a jpeg")}
			return m
		}, []string{"test/dog/broken.jpg", "not a readable"}},
		{"truncated JPEG", func() fstest.MapFS {
			m := sample()
			for n, f := range m {
				if strings.HasPrefix(n, "train/frog/") {
					m[n] = &fstest.MapFile{Data: f.Data[:len(f.Data)/2]}
					return m
				}
			}
			return m
		}, []string{"train/frog/", "JPEG"}},
		{"empty class folder", func() fstest.MapFS {
			m := sample()
			m["test/zebra"] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
			return m
		}, []string{"test/zebra", "empty class folder"}},
		{"stray file in a class folder", func() fstest.MapFS {
			m := sample()
			m["train/cat/notes.webp"] = &fstest.MapFile{Data: []byte("x")}
			return m
		}, []string{"train/cat/notes.webp", "unexpected file"}},
		{"unknown split folder", func() fstest.MapFS {
			m := sample()
			m["valid/cat/x.jpg"] = m["train/cat/0000.jpg"]
			return m
		}, []string{"valid/cat/x.jpg", "not a split name"}},
		{"nine classes", func() fstest.MapFS {
			m := sample()
			for n := range m {
				if strings.Contains(n, "/truck/") {
					delete(m, n)
				}
			}
			return m
		}, []string{"9 class folders"}},
		{"test classes differ", func() fstest.MapFS {
			m := sample()
			for n := range m {
				if strings.HasPrefix(n, "test/truck/") {
					delete(m, n)
				}
			}
			return m
		}, []string{"test", "differ"}},
		{"no data at all", func() fstest.MapFS {
			return fstest.MapFS{"README.md": {Data: []byte("hi")}}
		}, []string{"no CIFAR-10 data found"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tree := tc.tree()
			check := func(t *testing.T, d *Dataset, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("loaded %d images, want an error", d.Train.Len())
				}
				if d != nil {
					t.Error("returned a dataset along with the error")
				}
				for _, w := range tc.wants {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
			}
			t.Run("folder", func(t *testing.T) {
				d, err := LoadFS(context.Background(), tree, "tree")
				check(t, d, err)
			})
			t.Run("tar.gz", func(t *testing.T) {
				d, err := LoadArchive(context.Background(), bytes.NewReader(tarOf(t, tree, "", true)), "tree.tar.gz")
				check(t, d, err)
			})
		})
	}
}

func TestCorruptArchiveIsAnError(t *testing.T) {
	good := tarOf(t, treeFromDir(t, sampleJPEGDir, 1), "", true)
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0xff
	for name, b := range map[string][]byte{
		"truncated":  good[:len(good)/2],
		"bit flip":   flipped,
		"not a tar":  []byte("hello, this is not an archive at all, but it is long enough to look at........................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................"),
		"empty file": nil,
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "data.tar.gz")
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := LoadPath(context.Background(), p)
			if err == nil || d != nil {
				t.Fatalf("loaded a corrupt archive: %v, %v", d, err)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the archive", err)
			}
		})
	}
}

func TestLoadMissingPathSuggestsAlternatives(t *testing.T) {
	_, err := Load(context.Background(), filepath.Join(t.TempDir(), "nope"))
	if err == nil || !strings.Contains(err.Error(), "nope") || !strings.Contains(err.Error(), "embedded sample") {
		t.Fatalf("error %v does not name the path and the alternatives", err)
	}
}

func TestLoadHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Load(ctx, sampleJPEGDir); err == nil {
		t.Fatal("loaded images after the context was cancelled")
	}
}

func TestDecodeImagePNGIsExact(t *testing.T) {
	img, err := DecodeImage(bytes.NewReader(pngOf(t, 32, 32)))
	if err != nil {
		t.Fatal(err)
	}
	const plane = 32 * 32
	for _, p := range [][2]int{{0, 0}, {5, 7}, {31, 31}} {
		x, y := p[0], p[1]
		i := y*32 + x
		if img[i] != uint8(x) || img[plane+i] != uint8(y) || img[2*plane+i] != uint8(x+y) {
			t.Errorf("pixel (%d,%d) = %d,%d,%d, want %d,%d,%d (planar RGB, row-major)", x, y,
				img[i], img[plane+i], img[2*plane+i], x, y, x+y)
		}
	}
	if _, err := DecodeImage(bytes.NewReader(pngOf(t, 32, 31))); err == nil || !strings.Contains(err.Error(), "32x31") {
		t.Errorf("32x31 image: error %v, want one naming the size", err)
	}
}
