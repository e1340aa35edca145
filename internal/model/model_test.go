package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/metrics"
)

var classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

func newTestModel(t *testing.T, arch string) *Model {
	t.Helper()
	a, err := LookupArch(arch, len(classes))
	if err != nil {
		t.Fatal(err)
	}
	ws := a.Init(rand.New(rand.NewPCG(1, 2)))
	// Give batch norm non-trivial statistics so folding is exercised.
	for i := range ws {
		if strings.HasSuffix(ws[i].Name, "running_mean") {
			for j := range ws[i].Data {
				ws[i].Data[j] = 0.1 * float32(j%5)
			}
		}
	}
	m, err := New(Metadata{
		Architecture: arch, Classes: classes,
		Mean: [3]float32{0.49, 0.48, 0.45}, Std: [3]float32{0.25, 0.24, 0.26},
		Seed: 1, Metrics: &metrics.Metrics{Samples: 1, Accuracy: 0.5, Top3Accuracy: 0.7, Classes: classes},
	}, ws)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func randomImages(n int, seed uint64) []uint8 {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]uint8, n*ImageSize)
	for i := range b {
		b[i] = uint8(r.IntN(256))
	}
	return b
}

func TestSafetensorsRoundTrip(t *testing.T) {
	in := []Tensor{
		{Name: "conv1.weight", Shape: []int{2, 1, 1, 2}, Data: []float32{1, -2, 3.5, 4}},
		{Name: "fc.bias", Shape: []int{3}, Data: []float32{0, 1e-30, -7}},
	}
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	out, meta, err := ReadSafetensors(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if meta["format"] != "pt" || len(out) != 2 {
		t.Fatalf("meta %v, %d tensors", meta, len(out))
	}
	for i := range in {
		if out[i].Name != in[i].Name || !equalShape(out[i].Shape, in[i].Shape) {
			t.Fatalf("tensor %d = %+v, want %+v", i, out[i], in[i])
		}
		for j := range in[i].Data {
			if out[i].Data[j] != in[i].Data[j] {
				t.Fatalf("tensor %s value %d = %v, want %v", in[i].Name, j, out[i].Data[j], in[i].Data[j])
			}
		}
	}
	// The header is 8-byte aligned, as the reference implementation writes.
	if n := buf.Bytes()[0]; n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
}

func TestSafetensorsMalformed(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, []Tensor{{Name: "w", Shape: []int{4}, Data: []float32{1, 2, 3, 4}}}, nil); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"empty":           {nil, "shorter than the 8-byte header"},
		"truncated data":  {good[:len(good)-3], "outside"},
		"truncated head":  {good[:12], "truncated"},
		"huge header":     {append([]byte{0, 0, 0, 0, 0, 0, 0, 0x7f}, good[8:]...), "over the"},
		"trailing bytes":  {append(append([]byte(nil), good...), 1, 2, 3, 4), "trailing"},
		"not json header": {append([]byte{4, 0, 0, 0, 0, 0, 0, 0}, []byte("nope")...), "not a JSON object"},
	}
	for name, c := range cases {
		_, _, err := ReadSafetensors(c.b)
		if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want ErrMalformed mentioning %q", name, err, c.want)
		}
	}
}

func TestSaveLoadPredictsIdentically(t *testing.T) {
	for _, arch := range []string{"seed", "convnet"} {
		t.Run(arch, func(t *testing.T) {
			m := newTestModel(t, arch)
			imgs := randomImages(3, 1)
			before, err := m.Predict(imgs, 3)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := m.Save(dir); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{WeightsFile, MetadataFile, metrics.FileName} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("model folder lacks %s: %v", f, err)
				}
			}
			// Load by folder and by weights file.
			for _, p := range []string{dir, filepath.Join(dir, WeightsFile)} {
				m2, err := Load(p)
				if err != nil {
					t.Fatal(err)
				}
				if m2.Metadata().WeightsSHA256 == "" || m2.Metadata().WeightsSHA256 != m.Metadata().WeightsSHA256 {
					t.Errorf("weights sha %q, want %q", m2.Metadata().WeightsSHA256, m.Metadata().WeightsSHA256)
				}
				after, err := m2.Predict(imgs, 3)
				if err != nil {
					t.Fatal(err)
				}
				for i := range before {
					if before[i] != after[i] {
						t.Fatalf("prediction %d changed after save/load: %v vs %v", i, before[i], after[i])
					}
				}
			}
			var sum float32
			for _, p := range before[:len(classes)] {
				sum += p
			}
			if sum < 0.999 || sum > 1.001 {
				t.Errorf("probabilities of image 0 sum to %v", sum)
			}
		})
	}
}

func TestPredictIndependentOfBatch(t *testing.T) {
	for _, arch := range []string{"seed", "convnet"} {
		m := newTestModel(t, arch)
		n := PredictBatch + 3
		imgs := randomImages(n, 2)
		all, err := m.Predict(imgs, n)
		if err != nil {
			t.Fatal(err)
		}
		k := len(classes)
		for _, i := range []int{0, PredictBatch - 1, PredictBatch + 2} {
			one, err := m.Predict(imgs[i*ImageSize:(i+1)*ImageSize], 1)
			if err != nil {
				t.Fatal(err)
			}
			for j := 0; j < k; j++ {
				if one[j] != all[i*k+j] {
					t.Fatalf("%s image %d class %d: alone %v, in batch %v", arch, i, j, one[j], all[i*k+j])
				}
			}
		}
		if _, err := m.Predict(imgs[:10], 1); err == nil {
			t.Error("short image buffer: want an error")
		}
	}
}

func TestPredictConcurrently(t *testing.T) {
	m := newTestModel(t, "convnet")
	imgs := randomImages(4, 5)
	want, err := m.Predict(imgs, 4)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for r := 0; r < 3; r++ {
				got, err := m.Predict(imgs, 4)
				if err != nil {
					errs <- err
					return
				}
				for i := range want {
					if got[i] != want[i] {
						errs <- fmt.Errorf("concurrent prediction %d = %v, want %v", i, got[i], want[i])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestLoadRejectsDamagedFiles(t *testing.T) {
	m := newTestModel(t, "seed")
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	wp := filepath.Join(dir, WeightsFile)
	good, _ := os.ReadFile(wp)

	// Truncated weights: caught by the checksum, naming the file.
	os.WriteFile(wp, good[:len(good)/2], 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), wp) || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("truncated weights: err = %v", err)
	}
	// Without a checksum the safetensors parser reports the truncation.
	md := m.Metadata()
	md.WeightsSHA256 = ""
	b, _ := jsonMarshal(md)
	os.WriteFile(filepath.Join(dir, MetadataFile), b, 0o644)
	if _, err := Load(dir); err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), wp) {
		t.Errorf("truncated weights without checksum: err = %v", err)
	}
	// Broken JSON metadata.
	os.WriteFile(wp, good, 0o644)
	os.WriteFile(filepath.Join(dir, MetadataFile), []byte("{"), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("broken metadata: err = %v", err)
	}
	// Weights of another architecture.
	md.Architecture = "convnet"
	b, _ = jsonMarshal(md)
	os.WriteFile(filepath.Join(dir, MetadataFile), b, 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "architecture convnet needs") {
		t.Errorf("wrong architecture: err = %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "nothing")); err == nil {
		t.Error("missing folder: want an error")
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func TestFastAndStockAgree(t *testing.T) {
	if fastLayers == nil {
		t.Fatal("fast kernels are not registered (layers_fast.go)")
	}
	m := newTestModel(t, "convnet")
	imgs := randomImages(5, 3)
	fast, err := m.Predict(imgs, 5)
	if err != nil {
		t.Fatal(err)
	}
	m.layers = stockLayers{}
	m.free = map[int][]*Net{}
	stock, err := m.Predict(imgs, 5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range fast {
		if d := fast[i] - stock[i]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("probability %d: fast %v, stock %v", i, fast[i], stock[i])
		}
	}
}
