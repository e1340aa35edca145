package dataset

import (
	"bytes"
	"math"
	mrand "math/rand"
	"slices"
	"testing"
)

// sampleDigest pins the digest algorithm and the shipped sample: if this
// changes, every released model's recorded dataset digest stops matching.
// Update it only on purpose (a new sample or a new digest version).
const sampleDigest = "sha256:5da64758ca5aa44b04bf2baca1ac5db9e21847690a4935adb6c14a0fce88ca08"

func TestDigestIsStable(t *testing.T) {
	if got := mustSample(t).Digest(); got != sampleDigest {
		t.Errorf("sample digest = %s, want %s", got, sampleDigest)
	}
}

func TestDigestIgnoresOrderButNotContent(t *testing.T) {
	base := mustSample(t)
	want := base.Digest()

	shuffled := mustSample(t)
	shuffled.Train.Shuffle(mrand.New(mrand.NewSource(3))) // math/rand works too
	shuffled.Test.Shuffle(NewRand(4))
	if bytes.Equal(shuffled.Train.Images, base.Train.Images) {
		t.Fatal("shuffle did not reorder")
	}
	if got := shuffled.Digest(); got != want {
		t.Errorf("shuffling changed the digest: %s vs %s", got, want)
	}

	changes := map[string]func(d *Dataset){
		"one pixel":         func(d *Dataset) { d.Train.Images[12345]++ },
		"one label":         func(d *Dataset) { d.Test.Labels[7] = (d.Test.Labels[7] + 1) % 10 },
		"class name":        func(d *Dataset) { d.Classes[0] = "plane" },
		"no test":           func(d *Dataset) { d.Test = nil },
		"one image dropped": func(d *Dataset) { d.Train = d.Train.Subset("train", seq(1, d.Train.Len())) },
		"moved split": func(d *Dataset) {
			d.Train.Images = append(d.Train.Images, d.Test.Image(0)...)
			d.Train.Labels = append(d.Train.Labels, d.Test.Labels[0])
			d.Test = d.Test.Subset("test", seq(1, d.Test.Len()))
		},
	}
	for name, change := range changes {
		d := mustSample(t)
		change(d)
		if d.Digest() == want {
			t.Errorf("changing %s kept the digest", name)
		}
	}
}

func seq(lo, hi int) []int {
	var out []int
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

func TestSplitIsSeededAndStratified(t *testing.T) {
	s := mustSample(t).Train
	tr, va := s.Split(0.1, 7)
	tr2, va2 := s.Split(0.1, 7)
	if !bytes.Equal(va.Images, va2.Images) || !slices.Equal(tr.Labels, tr2.Labels) {
		t.Error("same seed gave different splits")
	}
	_, va3 := s.Split(0.1, 8)
	if bytes.Equal(va.Images, va3.Images) {
		t.Error("different seeds gave the same validation split")
	}
	if tr.Len() != 450 || va.Len() != 50 || tr.Name != "train" || va.Name != "validation" {
		t.Fatalf("split into %s %d / %s %d, want train 450 / validation 50", tr.Name, tr.Len(), va.Name, va.Len())
	}
	for c, n := range va.ClassCounts(NumClasses) {
		if n != 5 {
			t.Errorf("validation has %d images of class %d, want 5 (stratified)", n, c)
		}
	}
	// Together they are exactly the original images.
	whole := &Dataset{Classes: DefaultClasses, Train: s}
	joined := &Dataset{Classes: DefaultClasses, Train: &Split{
		Name:   "train",
		Images: append(bytes.Clone(tr.Images), va.Images...),
		Labels: append(bytes.Clone(tr.Labels), va.Labels...),
	}}
	if whole.Digest() != joined.Digest() {
		t.Error("train + validation are not the original images")
	}
	if a, b := s.Split(0, 1); a.Len() != s.Len() || b != nil {
		t.Errorf("fraction 0: %d and %v, want all and nil", a.Len(), b)
	}
}

func TestPermutationIsSeeded(t *testing.T) {
	s := mustSample(t).Train
	p1, p2, p3 := s.Permutation(1), s.Permutation(1), s.Permutation(2)
	if !slices.Equal(p1, p2) || slices.Equal(p1, p3) {
		t.Error("permutation is not a function of the seed")
	}
	sorted := slices.Clone(p1)
	slices.Sort(sorted)
	if !slices.Equal(sorted, seq(0, s.Len())) {
		t.Error("not a permutation")
	}
}

func TestMeanStdAndNormalize(t *testing.T) {
	// Channel 0 alternates 0 and 255 (mean .5, std .5), channel 1 is all
	// 51 (mean .2, std 0), channel 2 is all 255.
	img := make([]uint8, ImageBytes)
	for i := 0; i < 1024; i++ {
		img[i] = uint8(255 * (i % 2))
		img[1024+i] = 51
		img[2048+i] = 255
	}
	s := &Split{Images: slices.Concat(img, img), Labels: []uint8{0, 1}}
	mean, std := s.MeanStd()
	want := [2][3]float32{{0.5, 0.2, 1}, {0.5, 0, 0}}
	for c := 0; c < 3; c++ {
		if math.Abs(float64(mean[c]-want[0][c])) > 1e-6 || math.Abs(float64(std[c]-want[1][c])) > 1e-6 {
			t.Errorf("channel %d: mean/std %v/%v, want %v/%v", c, mean[c], std[c], want[0][c], want[1][c])
		}
	}

	dst := make([]float32, 2*ImageBytes)
	m, sd := [3]float32{0.5, 0.5, 0.5}, [3]float32{0.25, 0.5, 1}
	s.Images[ImageBytes] = 0 // first pixel of image 1, red
	s.Batch(dst, []int{1, 0}, m, sd)
	checks := []struct {
		i    int
		want float32
	}{
		{0, (0 - 0.5) / 0.25},                         // image 1, red, set to 0
		{1, (1 - 0.5) / 0.25},                         // image 1, red, 255
		{1024, (0.2 - 0.5) / 0.5},                     // image 1, green
		{2048, (1 - 0.5) / 1},                         // image 1, blue
		{ImageBytes + 0, (0 - 0.5) / 0.25},            // image 0, red, 0
		{ImageBytes + 2048 + 5, (1 - 0.5) / 1},        // image 0, blue
		{ImageBytes + 1024 + 1023, (0.2 - 0.5) / 0.5}, // image 0, green, last
	}
	for _, c := range checks {
		if math.Abs(float64(dst[c.i]-c.want)) > 1e-5 {
			t.Errorf("batch[%d] = %v, want %v", c.i, dst[c.i], c.want)
		}
	}
	labels := make([]uint8, 2)
	s.BatchLabels(labels, []int{1, 0})
	if labels[0] != 1 || labels[1] != 0 {
		t.Errorf("batch labels %v, want [1 0]", labels)
	}
}

func TestParseRecordsRoundTrip(t *testing.T) {
	s := mustSample(t).Test
	var buf bytes.Buffer
	if err := WriteRecords(&buf, s); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != s.Len()*RecordBytes {
		t.Fatalf("wrote %d bytes for %d records", buf.Len(), s.Len())
	}
	imgs, labels, err := ParseRecords("x", buf.Bytes(), NumClasses)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(imgs, s.Images) || !bytes.Equal(labels, s.Labels) {
		t.Error("records did not round-trip")
	}
}
