package train

import (
	"math/rand/v2"

	"github.com/model-release/model-release/internal/model"
)

// normalizer turns uint8 pixels into normalised float32 with one table per
// channel, using model.Normalize's formula so training sees exactly the
// values prediction sees.
type normalizer [model.Channels][256]float32

func newNormalizer(mean, std [3]float32) *normalizer {
	var n normalizer
	for c := range n {
		var one [model.ImageSize]uint8
		var out [model.ImageSize]float32
		plane := model.Height * model.Width
		for v := 0; v < 256; v++ {
			one[c*plane] = uint8(v)
			model.Normalize(out[:], one[:], mean, std)
			n[c][v] = out[c*plane]
		}
	}
	return &n
}

// pad is the zero padding of the random crop, in pixels.
const pad = 4

// write normalises img into dst. With rng, it first takes a random 32x32
// crop of the image padded by 4 black pixels and flips it horizontally
// with probability one half.
func (n *normalizer) write(dst []float32, img []uint8, rng *rand.Rand) {
	const h, w = model.Height, model.Width
	const plane = h * w
	if rng == nil {
		for c := 0; c < model.Channels; c++ {
			lut := &n[c]
			for i, v := range img[c*plane : (c+1)*plane] {
				dst[c*plane+i] = lut[v]
			}
		}
		return
	}
	dy, dx := rng.IntN(2*pad+1)-pad, rng.IntN(2*pad+1)-pad
	flip := rng.IntN(2) == 1
	for c := 0; c < model.Channels; c++ {
		lut := &n[c]
		src := img[c*plane : (c+1)*plane]
		out := dst[c*plane : (c+1)*plane]
		for y := 0; y < h; y++ {
			sy := y + dy
			row := out[y*w : (y+1)*w]
			if sy < 0 || sy >= h {
				for x := range row {
					row[x] = lut[0]
				}
				continue
			}
			for x := 0; x < w; x++ {
				sx := x + dx
				if flip {
					sx = w - 1 - x + dx
				}
				if sx < 0 || sx >= w {
					row[x] = lut[0]
				} else {
					row[x] = lut[src[sy*w+sx]]
				}
			}
		}
	}
}
