// Package imgdecode turns a 32x32 JPEG or PNG into a CIFAR-10 record image
// (planar RGB). It is separate from package dataset so that the sample
// generator (mksample) can use the exact same decoder without importing the
// embedded sample it creates.
package imgdecode

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers JPEG for image.Decode
	_ "image/png"  // registers PNG for image.Decode
	"strings"
)

// Size is the width and height every image must have.
const Size = 32

// Bytes is the size of one decoded image: 3 planes of Size x Size.
const Bytes = 3 * Size * Size

// Into decodes one JPEG/PNG into dst[:Bytes]. Images that are not 32x32 are
// an error: resizing would silently change what the model sees.
func Into(dst []uint8, b []byte) error {
	// Check the size before decoding: a corrupt header can claim 65535x65535.
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not a readable JPEG or PNG: %w", err)
	}
	if cfg.Width != Size || cfg.Height != Size {
		return fmt.Errorf("image is %dx%d, want %dx%d", cfg.Width, cfg.Height, Size, Size)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not a readable %s: %w", strings.ToUpper(format), err)
	}
	toCHW(dst[:Bytes], img)
	return nil
}

// toCHW writes a 32x32 image as planar RGB. Alpha is dropped (CIFAR images
// are opaque).
func toCHW(dst []uint8, img image.Image) {
	const plane = Size * Size
	r, g, bl := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	bo := img.Bounds()
	switch m := img.(type) {
	case *image.YCbCr:
		for y := 0; y < Size; y++ {
			for x := 0; x < Size; x++ {
				yi := m.YOffset(bo.Min.X+x, bo.Min.Y+y)
				ci := m.COffset(bo.Min.X+x, bo.Min.Y+y)
				i := y*Size + x
				r[i], g[i], bl[i] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
	case *image.Gray:
		for y := 0; y < Size; y++ {
			for x := 0; x < Size; x++ {
				v := m.Pix[m.PixOffset(bo.Min.X+x, bo.Min.Y+y)]
				i := y*Size + x
				r[i], g[i], bl[i] = v, v, v
			}
		}
	case *image.NRGBA:
		for y := 0; y < Size; y++ {
			for x := 0; x < Size; x++ {
				o := m.PixOffset(bo.Min.X+x, bo.Min.Y+y)
				i := y*Size + x
				r[i], g[i], bl[i] = m.Pix[o], m.Pix[o+1], m.Pix[o+2]
			}
		}
	default:
		for y := 0; y < Size; y++ {
			for x := 0; x < Size; x++ {
				c := color.NRGBAModel.Convert(img.At(bo.Min.X+x, bo.Min.Y+y)).(color.NRGBA)
				i := y*Size + x
				r[i], g[i], bl[i] = c.R, c.G, c.B
			}
		}
	}
}
