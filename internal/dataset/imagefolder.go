package dataset

import (
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/model-release/model-release/internal/dataset/internal/imgdecode"
)

var imageExts = []string{".jpg", ".jpeg", ".png"}

func isImageFile(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	for _, e := range imageExts {
		if ext == e {
			return true
		}
	}
	return false
}

// DecodeImage decodes a JPEG or PNG into a CHW record (3072 bytes, planar
// RGB). Images that are not 32x32 are an error: resizing would silently
// change what the model sees.
func DecodeImage(r io.Reader) ([]uint8, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxImageBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxImageBytes {
		return nil, fmt.Errorf("image larger than %d MiB", maxImageBytes>>20)
	}
	dst := make([]uint8, ImageBytes)
	if err := decodeInto(dst, b); err != nil {
		return nil, err
	}
	return dst, nil
}

// decodeInto decodes one JPEG/PNG into dst[:ImageBytes].
func decodeInto(dst []uint8, b []byte) error { return imgdecode.Into(dst, b) }

// Split folder names of the image-folder layout.
var splitNames = []string{"train", "test"}

// loadImageFolder reads the <split>/<class>/<image> layout (torchvision
// ImageFolder, Keras image_dataset_from_directory). Classes are the sorted
// folder names of the train split, so the CIFAR-10 names get the CIFAR-10
// labels. Images are decoded on all cores.
func loadImageFolder(ctx context.Context, src source, files, dirs []string) (*Dataset, error) {
	type item struct {
		split int // index into splitNames
		class string
		name  string
	}
	var items []item
	prefix, prefixFrom := "", ""
	classDirs := [2]map[string]bool{{}, {}}
	splitOf := func(s string) int {
		for i, n := range splitNames {
			if s == n {
				return i
			}
		}
		return -1
	}
	for _, f := range files {
		if !isImageFile(f) {
			continue
		}
		c := strings.Split(f, "/")
		if len(c) < 3 {
			return nil, fmt.Errorf("%s: image is not inside a <split>/<class>/ folder (want e.g. train/cat/0001.jpg)", src.where(f))
		}
		p := strings.Join(c[:len(c)-3], "/")
		if prefixFrom == "" {
			prefix, prefixFrom = p, f
		} else if p != prefix {
			return nil, fmt.Errorf("%s: image at a different depth than %s; want every image at <split>/<class>/<image>", src.where(f), src.where(prefixFrom))
		}
		sp := splitOf(c[len(c)-3])
		if sp < 0 {
			return nil, fmt.Errorf("%s: folder %q is not a split name; want %s/<class>/<image>", src.where(f), c[len(c)-3], strings.Join(splitNames, " or "))
		}
		classDirs[sp][c[len(c)-2]] = true
		items = append(items, item{sp, c[len(c)-2], f})
	}
	if len(items) == 0 {
		return nil, errNoData(src)
	}
	// Everything else under the split folders must be a class folder or an
	// image in one: a stray .webp would otherwise vanish from the dataset.
	under := func(p string) (sp int, rest []string) {
		if prefix != "" {
			if !strings.HasPrefix(p, prefix+"/") {
				return -1, nil
			}
			p = strings.TrimPrefix(p, prefix+"/")
		}
		c := strings.Split(p, "/")
		return splitOf(c[0]), c[1:]
	}
	for _, f := range files {
		if sp, rest := under(f); sp >= 0 && !isImageFile(f) {
			return nil, fmt.Errorf("%s: unexpected file in the image tree; want %s images at <split>/<class>/<image>", src.where(f), strings.Join(imageExts, ", "))
		} else if sp >= 0 && len(rest) != 2 {
			return nil, fmt.Errorf("%s: image not directly inside a class folder", src.where(f))
		}
	}
	for _, d := range dirs {
		sp, rest := under(d)
		if sp < 0 || len(rest) == 0 {
			continue
		}
		if len(rest) > 1 {
			return nil, fmt.Errorf("%s: nested folder inside a class folder; want <split>/<class>/<image>", src.where(d))
		}
		if !classDirs[sp][rest[0]] {
			return nil, fmt.Errorf("%s: empty class folder (no %s images)", src.where(d), strings.Join(imageExts, ", "))
		}
	}

	classes := sortedKeys(classDirs[0])
	if len(classes) == 0 {
		return nil, fmt.Errorf("%s: no %s folder with images; the training split is required", src.where(prefix), splitNames[0])
	}
	if len(classes) != NumClasses {
		return nil, fmt.Errorf("%s: %d class folders %q, want %d", src.where(path.Join(prefix, "train")), len(classes), classes, NumClasses)
	}
	if len(classDirs[1]) > 0 {
		if tc := sortedKeys(classDirs[1]); strings.Join(tc, "\x00") != strings.Join(classes, "\x00") {
			return nil, fmt.Errorf("%s: class folders %q differ from the train split's %q", src.where(path.Join(prefix, "test")), tc, classes)
		}
	}
	label := map[string]uint8{}
	for i, c := range classes {
		label[c] = uint8(i)
	}

	d := &Dataset{Classes: classes}
	splits := [2]*Split{{Name: "train"}, {Name: "test"}}
	slot := make([]int, len(items)) // index of each item within its split
	for i, it := range items {
		s := splits[it.split]
		slot[i] = len(s.Labels)
		s.Labels = append(s.Labels, label[it.class])
	}
	for _, s := range splits {
		s.Images = make([]uint8, len(s.Labels)*ImageBytes)
	}
	errs := make([]error, len(items))
	var failed atomic.Bool
	parallel(len(items), func(i int) {
		if failed.Load() {
			return
		}
		if err := ctx.Err(); err != nil {
			errs[i] = err
			failed.Store(true)
			return
		}
		it := items[i]
		b, err := src.read(it.name)
		if err == nil {
			if err = decodeInto(splits[it.split].Image(slot[i]), b); err != nil {
				err = fmt.Errorf("%s: %w", src.where(it.name), err)
			}
		}
		if err != nil {
			errs[i] = err
			failed.Store(true)
		}
	})
	for _, err := range errs { // workers stop early, so this is a bad file, not always the first
		if err != nil {
			return nil, err
		}
	}
	d.Train = splits[0]
	if splits[1].Len() > 0 {
		d.Test = splits[1]
	}
	return d, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func errNoData(src source) error {
	return fmt.Errorf("%s: no CIFAR-10 data found; want cifar-10-batches-bin/data_batch_N.bin files or an image tree <split>/<class>/*.jpg", src.where("."))
}
