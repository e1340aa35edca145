package serve

import (
	"image"
	"image/color"
	"testing"
)

// A 32x32 upload reaches the model bit-exactly, in CHW order.
func TestDecodePassesThrough32x32(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	for y := range 32 {
		for x := range 32 {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x * 7), uint8(y * 5), uint8(x + y), 255})
		}
	}
	rec, err := decodeImage(nil, pngBytes(t, m), formatPNG)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec) != recordSize {
		t.Fatalf("record of %d bytes, want %d", len(rec), recordSize)
	}
	for y := range 32 {
		for x := range 32 {
			want := [3]uint8{uint8(x * 7), uint8(y * 5), uint8(x + y)}
			for c := range 3 {
				if got := rec[c*1024+y*32+x]; got != want[c] {
					t.Fatalf("pixel (%d,%d) channel %d = %d, want %d", x, y, c, got, want[c])
				}
			}
		}
	}
}

// A 64x64 image is shrunk by averaging each 2x2 block.
func TestDecodeResizesByAreaAverage(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			// Columns alternate 10 and 30: every 2x2 block averages 20.
			v := uint8(10)
			if x%2 == 1 {
				v = 30
			}
			m.SetRGBA(x, y, color.RGBA{v, uint8(4 * (y / 2)), 200, 255})
		}
	}
	rec, err := decodeImage(nil, pngBytes(t, m), formatAny)
	if err != nil {
		t.Fatal(err)
	}
	for y := range 32 {
		for x := range 32 {
			if r, g, b := rec[y*32+x], rec[1024+y*32+x], rec[2048+y*32+x]; r != 20 || g != uint8(4*y) || b != 200 {
				t.Fatalf("pixel (%d,%d) = %d,%d,%d, want 20,%d,200", x, y, r, g, b, 4*y)
			}
		}
	}
}

func TestDecodeAppends(t *testing.T) {
	a := pngBytes(t, solid(32, 32, color.RGBA{1, 2, 3, 255}))
	b := pngBytes(t, solid(16, 16, color.RGBA{4, 5, 6, 255}))
	rec, err := decodeImage(nil, a, formatAny)
	if err == nil {
		rec, err = decodeImage(rec, b, formatAny)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(rec) != 2*recordSize || rec[0] != 1 || rec[2048] != 3 || rec[recordSize] != 4 || rec[recordSize+2048+1023] != 6 {
		t.Errorf("two appended records are wrong: len %d", len(rec))
	}
}

func TestBoxWeightsSumToScale(t *testing.T) {
	for _, src := range []int{1, 7, 31, 32, 33, 100, 4096} {
		for i, ws := range boxWeights(src, Side) {
			var sum float64
			for _, w := range ws {
				sum += w.w
			}
			if want := float64(src) / Side; sum < want-1e-9 || sum > want+1e-9 {
				t.Errorf("src %d, output %d: weights sum to %v, want %v", src, i, sum, want)
			}
		}
	}
}
