// Package dataset loads CIFAR-10 and serves it to training and evaluation as
// normalized float32 NCHW batches.
//
// Sources (see Load): the embedded sample, the standard binary distribution
// (a cifar-10-batches-bin folder or cifar-10-binary.tar.gz), an image-folder
// tree <split>/<class>/*.{jpg,jpeg,png} (as a folder or .tar.gz), and a
// verified, cached, resumable download of the canonical archive.
//
// Images are kept as they are stored in the CIFAR binary records: 3072 bytes
// per image, planar RGB (all red, then all green, then all blue), each plane
// row-major. Conversion to float32 happens per batch, so 50,000 images cost
// 150 MiB rather than 600 MiB.
package dataset

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Image geometry of CIFAR-10.
const (
	ImageSize  = 32
	Channels   = 3
	ImageBytes = Channels * ImageSize * ImageSize
	// NumClasses is the number of classes every source must have.
	NumClasses = 10
)

// DefaultClasses are the CIFAR-10 class names in label order (as in
// batches.meta.txt). They are also their alphabetical order, so an
// image-folder tree with these folder names gets the same labels.
var DefaultClasses = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// Dataset is a loaded CIFAR-10-like dataset.
type Dataset struct {
	Classes []string // NumClasses names in label order
	Train   *Split
	Test    *Split // nil when the source has no test split
	Source  string // human description of where it came from
}

// Split is one split of a dataset: N images in CIFAR record layout and
// their labels.
type Split struct {
	Name   string
	Images []uint8 // N x 3 x 32 x 32, planar RGB (CHW) per image, row-major
	Labels []uint8 // N
}

// Len is the number of images.
func (s *Split) Len() int {
	if s == nil {
		return 0
	}
	return len(s.Labels)
}

// Image returns the CHW record of image i (a view, not a copy).
func (s *Split) Image(i int) []uint8 {
	return s.Images[i*ImageBytes : (i+1)*ImageBytes : (i+1)*ImageBytes]
}

// Subset copies the images at idx, in that order, into a new split.
func (s *Split) Subset(name string, idx []int) *Split {
	out := &Split{Name: name, Images: make([]uint8, len(idx)*ImageBytes), Labels: make([]uint8, len(idx))}
	for j, i := range idx {
		copy(out.Images[j*ImageBytes:], s.Image(i))
		out.Labels[j] = s.Labels[i]
	}
	return out
}

// Permutation returns a seeded random order of the images. The same seed
// gives the same order on every platform and Go version (PCG generator).
func (s *Split) Permutation(seed int64) []int {
	return NewRand(seed).Perm(s.Len())
}

// NewRand is the seeded generator the package uses; exposed so callers that
// want the same stream can make one.
func NewRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x6d6f64656c2d7265)) // "model-re"
}

// Shuffler is satisfied by *rand.Rand of both math/rand and math/rand/v2.
type Shuffler interface {
	Shuffle(n int, swap func(i, j int))
}

// Shuffle reorders images and labels in place.
func (s *Split) Shuffle(r Shuffler) {
	tmp := make([]uint8, ImageBytes)
	r.Shuffle(s.Len(), func(i, j int) {
		a, b := s.Image(i), s.Image(j)
		copy(tmp, a)
		copy(a, b)
		copy(b, tmp)
		s.Labels[i], s.Labels[j] = s.Labels[j], s.Labels[i]
	})
}

// Split holds out a seeded, class-stratified fraction frac of the images as
// a validation split: each class gives round(frac * its count) images, so
// class balance is kept. Both returned splits keep the original order of
// their images and are copies. frac <= 0 returns a copy of s and nil.
func (s *Split) Split(frac float64, seed int64) (train, val *Split) {
	all := make([]int, s.Len())
	for i := range all {
		all[i] = i
	}
	if !(frac > 0) {
		return s.Subset(s.Name, all), nil
	}
	frac = math.Min(frac, 1)
	byClass := map[uint8][]int{}
	for i, l := range s.Labels {
		byClass[l] = append(byClass[l], i)
	}
	labels := make([]int, 0, len(byClass))
	for l := range byClass {
		labels = append(labels, int(l))
	}
	sort.Ints(labels) // map order is random; the RNG stream must not be
	rng := NewRand(seed)
	held := make([]bool, s.Len())
	for _, l := range labels {
		idx := byClass[uint8(l)]
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for _, i := range idx[:int(math.Round(frac*float64(len(idx))))] {
			held[i] = true
		}
	}
	var tr, va []int
	for i, h := range held {
		if h {
			va = append(va, i)
		} else {
			tr = append(tr, i)
		}
	}
	return s.Subset(s.Name, tr), s.Subset("validation", va)
}

// ClassCounts counts images per label; labels >= nClasses are not counted.
func (s *Split) ClassCounts(nClasses int) []int {
	out := make([]int, nClasses)
	for _, l := range s.Labels {
		if int(l) < nClasses {
			out[l]++
		}
	}
	return out
}

// MeanStd returns the per-channel mean and (population) standard deviation
// of the pixels on the 0..1 scale: the normalization stored with a model.
func (s *Split) MeanStd() (mean, std [3]float32) {
	const plane = ImageSize * ImageSize
	var hist [Channels][256]uint64
	for i := 0; i < s.Len(); i++ {
		img := s.Image(i)
		for c := 0; c < Channels; c++ {
			h := &hist[c]
			for _, v := range img[c*plane : (c+1)*plane] {
				h[v]++
			}
		}
	}
	n := float64(s.Len() * plane)
	if n == 0 {
		return mean, [3]float32{1, 1, 1}
	}
	for c := 0; c < Channels; c++ {
		var sum, sq float64
		for v, k := range hist[c] {
			x := float64(v) / 255
			sum += x * float64(k)
			sq += x * x * float64(k)
		}
		m := sum / n
		mean[c] = float32(m)
		std[c] = float32(math.Sqrt(math.Max(sq/n-m*m, 0)))
	}
	return mean, std
}

// Normalize writes one image as CHW float32 (x/255 - mean) / std into
// dst[:ImageBytes].
func Normalize(dst []float32, img []uint8, mean, std [3]float32) {
	const plane = ImageSize * ImageSize
	dst = dst[:ImageBytes]
	img = img[:ImageBytes]
	for c := 0; c < Channels; c++ {
		var lut [256]float32
		for v := range lut {
			lut[v] = (float32(v)/255 - mean[c]) / std[c]
		}
		d, src := dst[c*plane:(c+1)*plane], img[c*plane:(c+1)*plane]
		for i, v := range src {
			d[i] = lut[v]
		}
	}
}

// Batch writes the images at idx as normalized NCHW float32 into
// dst[:len(idx)*ImageBytes] (dst must be at least that long).
func (s *Split) Batch(dst []float32, idx []int, mean, std [3]float32) {
	for j, i := range idx {
		Normalize(dst[j*ImageBytes:(j+1)*ImageBytes], s.Image(i), mean, std)
	}
}

// BatchLabels copies the labels at idx into dst[:len(idx)].
func (s *Split) BatchLabels(dst []uint8, idx []int) {
	for j, i := range idx {
		dst[j] = s.Labels[i]
	}
}

// Digest identifies the dataset's content, independent of record order:
//
//	sha256( "cifar-digest-v1\n"
//	        for each class name:  name "\n"
//	        for each split (train, then test when present):
//	            name "\n", uint64 big-endian count,
//	            the SHA-256 of every record (label byte || 3072 CHW bytes),
//	            sorted bytewise )
//
// So the same images give the same digest whether they came from the
// binary files, an image folder, or a shuffled copy; any changed pixel,
// label, class name, or image moved between splits changes it.
func (d *Dataset) Digest() string {
	h := sha256.New()
	h.Write([]byte("cifar-digest-v1\n"))
	for _, c := range d.Classes {
		h.Write([]byte(c + "\n"))
	}
	for _, s := range []*Split{d.Train, d.Test} {
		if s == nil {
			continue
		}
		h.Write([]byte(s.Name + "\n"))
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(s.Len()))
		h.Write(n[:])
		sums := make([][sha256.Size]byte, s.Len())
		parallel(s.Len(), func(i int) {
			rh := sha256.New()
			rh.Write([]byte{s.Labels[i]})
			rh.Write(s.Image(i))
			rh.Sum(sums[i][:0])
		})
		slices.SortFunc(sums, func(a, b [sha256.Size]byte) int { return bytes.Compare(a[:], b[:]) })
		for i := range sums {
			h.Write(sums[i][:])
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// validate checks the invariants every loader promises.
func (d *Dataset) validate() error {
	if len(d.Classes) != NumClasses {
		return fmt.Errorf("dataset has %d classes %q, want %d", len(d.Classes), d.Classes, NumClasses)
	}
	if d.Train == nil || d.Train.Len() == 0 {
		return fmt.Errorf("dataset has no training images")
	}
	for _, s := range []*Split{d.Train, d.Test} {
		if s == nil {
			continue
		}
		if len(s.Images) != s.Len()*ImageBytes {
			return fmt.Errorf("split %s: %d image bytes for %d labels", s.Name, len(s.Images), s.Len())
		}
		for i, l := range s.Labels {
			if int(l) >= len(d.Classes) {
				return fmt.Errorf("split %s: image %d has label %d outside 0..%d", s.Name, i, l, len(d.Classes)-1)
			}
		}
	}
	return nil
}
