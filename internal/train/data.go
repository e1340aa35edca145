package train

import (
	"fmt"

	"github.com/model-release/model-release/internal/dataset"
	"github.com/model-release/model-release/internal/model"
)

// Split is a set of labelled images: N records of 3x32x32 uint8 CHW.
type Split struct {
	Images []uint8
	Labels []uint8
}

// Len is the number of images.
func (s Split) Len() int { return len(s.Labels) }

func (s Split) image(i int) []uint8 { return s.Images[i*model.ImageSize : (i+1)*model.ImageSize] }

func (s Split) check(name string, classes int) error {
	if len(s.Images) != s.Len()*model.ImageSize {
		return fmt.Errorf("%s split: %d image bytes for %d labels; each image is %d bytes", name, len(s.Images), s.Len(), model.ImageSize)
	}
	for i, l := range s.Labels {
		if int(l) >= classes {
			return fmt.Errorf("%s split: label %d of image %d is not below the %d classes", name, l, i, classes)
		}
	}
	return nil
}

// Data is what training needs: the class names, a training split, an
// optional validation split (for per-epoch validation and early stopping)
// and an optional test split (for the final metrics).
type Data struct {
	Classes []string
	Train   Split
	Val     Split
	Test    Split
	// Digest identifies the dataset (dataset.Dataset.Digest), recorded in
	// model.json and checked on resume.
	Digest string
}

// FromDataset holds out a seeded, class-stratified fraction valSplit of the
// training images for validation (none when valSplit is 0).
func FromDataset(ds *dataset.Dataset, valSplit float64, seed int64) Data {
	d := Data{Classes: ds.Classes, Digest: ds.Digest()}
	tr, va := ds.Train.Split(valSplit, seed)
	d.Train = Split{Images: tr.Images, Labels: tr.Labels}
	if va != nil {
		d.Val = Split{Images: va.Images, Labels: va.Labels}
	}
	if ds.Test != nil {
		d.Test = Split{Images: ds.Test.Images, Labels: ds.Test.Labels}
	}
	return d
}
