package serve

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
)

// Side is the width and height, in pixels, the model takes.
const Side = 32

// recordSize is the byte length of one raw CHW uint8 image record.
const recordSize = 3 * Side * Side

// maxPixels bounds the decoded size of one upload (a 4096x4096 image), so a
// small, highly compressed file cannot make the server allocate gigabytes.
const maxPixels = 4096 * 4096

// errNotImage marks input that is not a decodable JPEG or PNG; the handler
// turns it into a 400.
var errNotImage = errors.New("not a valid JPEG or PNG image")

// format names an accepted image encoding.
type format string

const (
	formatAny  format = ""
	formatJPEG format = "jpeg"
	formatPNG  format = "png"
)

// decodeImage turns one JPEG or PNG into a raw CHW uint8 record of
// Side x Side pixels, appended to dst.
//
// Serving policy: images of any other size are resized (stretched, aspect
// ratio not kept) to 32x32 with an area-averaging filter, the same as
// shrinking a photo in an image editor; grayscale and alpha images are
// converted to RGB (alpha is ignored). A 32x32 image passes through
// unchanged, so its pixels reach the model bit-exactly.
func decodeImage(dst []uint8, data []byte, want format) ([]uint8, error) {
	cfg, got, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return dst, fmt.Errorf("%w: %v", errNotImage, err)
	}
	if want != formatAny && format(got) != want {
		return dst, fmt.Errorf("%w: the body is %s but the content type says image/%s", errNotImage, got, want)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return dst, fmt.Errorf("%w: it has no pixels (%dx%d)", errNotImage, cfg.Width, cfg.Height)
	}
	if cfg.Width*cfg.Height > maxPixels {
		return dst, fmt.Errorf("%w: %dx%d is larger than the %d-pixel limit; shrink it first", errNotImage, cfg.Width, cfg.Height, maxPixels)
	}
	var img image.Image
	switch got {
	case "jpeg":
		img, err = jpeg.Decode(bytes.NewReader(data))
	case "png":
		img, err = png.Decode(bytes.NewReader(data))
	default:
		return dst, fmt.Errorf("%w: %s images are not accepted", errNotImage, got)
	}
	if err != nil {
		return dst, fmt.Errorf("%w: %v", errNotImage, err)
	}
	return appendCHW(dst, toRGBA(img)), nil
}

// toRGBA converts any decoded image to 8-bit RGBA with its origin at 0,0;
// draw.Draw has fast paths for the YCbCr and paletted images decoders return.
func toRGBA(img image.Image) *image.RGBA {
	if m, ok := img.(*image.RGBA); ok && m.Rect.Min == (image.Point{}) {
		return m
	}
	b := img.Bounds()
	m := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(m, m.Rect, img, b.Min, draw.Src)
	return m
}

// appendCHW appends the Side x Side CHW record of m, resampling when m has
// another size.
func appendCHW(dst []uint8, m *image.RGBA) []uint8 {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	base := len(dst)
	dst = append(dst, make([]uint8, recordSize)...)
	out := dst[base:]
	if w == Side && h == Side {
		for y := 0; y < Side; y++ {
			row := m.Pix[y*m.Stride:]
			for x := 0; x < Side; x++ {
				for c := 0; c < 3; c++ {
					out[c*Side*Side+y*Side+x] = row[4*x+c]
				}
			}
		}
		return dst
	}
	xs, ys := boxWeights(w, Side), boxWeights(h, Side)
	for oy := 0; oy < Side; oy++ {
		for ox := 0; ox < Side; ox++ {
			var sum [3]float64
			var total float64
			for _, wy := range ys[oy] {
				row := m.Pix[wy.src*m.Stride:]
				for _, wx := range xs[ox] {
					wgt := wy.w * wx.w
					p := row[4*wx.src:]
					sum[0] += wgt * float64(p[0])
					sum[1] += wgt * float64(p[1])
					sum[2] += wgt * float64(p[2])
					total += wgt
				}
			}
			for c := 0; c < 3; c++ {
				v := sum[c]/total + 0.5
				if v > 255 {
					v = 255
				}
				out[c*Side*Side+oy*Side+ox] = uint8(v)
			}
		}
	}
	return dst
}

type weight struct {
	src int
	w   float64
}

// boxWeights maps each of n output pixels to the source pixels its span
// covers, weighted by overlap: area averaging when shrinking, nearest-like
// blocks when enlarging.
func boxWeights(src, n int) [][]weight {
	out := make([][]weight, n)
	scale := float64(src) / float64(n)
	for i := range out {
		lo, hi := float64(i)*scale, float64(i+1)*scale
		for s := int(lo); s < src && float64(s) < hi; s++ {
			a, b := max(lo, float64(s)), min(hi, float64(s+1))
			if b > a {
				out[i] = append(out[i], weight{s, b - a})
			}
		}
	}
	return out
}
