package serve

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"sync"
	"testing"
)

var testClasses = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// fakePredictor classifies by the mean red value of an image: class
// floor(meanRed*10/256) gets 0.55, the next 0.25, the rest share 0.2. It
// can block every call on gate and records how many calls overlap.
type fakePredictor struct {
	gate chan struct{} // when not nil, each Predict waits for a receive... a close releases all
	err  error
	bad  bool // return one probability too few

	mu        sync.Mutex
	active    int
	maxActive int
	calls     int
	entered   chan struct{} // receives one value per call entering Predict, if not nil
}

func (f *fakePredictor) Predict(images []uint8, n int) ([]float32, error) {
	f.mu.Lock()
	f.active++
	f.calls++
	f.maxActive = max(f.maxActive, f.active)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.active--
		f.mu.Unlock()
	}()
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.gate != nil {
		<-f.gate
	}
	if f.err != nil {
		return nil, f.err
	}
	if len(images) != n*recordSize {
		return nil, errors.New("fake: wrong record length")
	}
	c := len(testClasses)
	out := make([]float32, n*c)
	for i := range n {
		rec := images[i*recordSize:]
		sum := 0
		for _, v := range rec[:Side*Side] { // channel 0 (red) of CHW
			sum += int(v)
		}
		cls := (sum / (Side * Side)) * c / 256
		row := out[i*c : (i+1)*c]
		for j := range row {
			row[j] = 0.2 / float32(c-2)
		}
		row[cls] = 0.55
		row[(cls+1)%c] = 0.25
	}
	if f.bad {
		out = out[1:]
	}
	return out, nil
}

func (f *fakePredictor) stats() (active, maxActive, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active, f.maxActive, f.calls
}

// classOfRed is the class the fake gives a uniform image of red value r.
func classOfRed(r uint8) int { return int(r) * len(testClasses) / 256 }

func solid(w, h int, c color.Color) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, c)
		}
	}
	return m
}

func pngBytes(t *testing.T, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t *testing.T, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
