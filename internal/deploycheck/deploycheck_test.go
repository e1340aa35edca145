package deploycheck

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const classes = 10

// copyPuller "pulls" an image by copying a local model folder, recording
// the references it was asked for.
type copyPuller struct {
	src  string
	refs []string
	err  error
}

func (p *copyPuller) PullModel(_ context.Context, ref, dest string) error {
	p.refs = append(p.refs, ref)
	if p.err != nil {
		return p.err
	}
	entries, err := os.ReadDir(p.src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(p.src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dest, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// fakeModel's probabilities depend on its weights (the bytes of
// model.safetensors) and on each image; perturb changes the output for
// images whose first byte is listed.
type fakeModel struct {
	weights []byte
	perturb map[uint8]func(row []float32)
	batches []int
}

func (m *fakeModel) Predict(images []uint8, n int) ([]float32, error) {
	m.batches = append(m.batches, n)
	out := make([]float32, n*classes)
	for i := range n {
		rec := images[i*RecordSize : (i+1)*RecordSize]
		row := out[i*classes : (i+1)*classes]
		var sum float32
		for j := range row {
			row[j] = float32(1 + int(rec[j])*int(m.weights[j%len(m.weights)])%97)
			sum += row[j]
		}
		for j := range row {
			row[j] /= sum
		}
		if f := m.perturb[rec[0]]; f != nil {
			f(row)
		}
	}
	return out, nil
}

func modelDir(t *testing.T, weights string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte(weights), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func loader(perturb map[uint8]func([]float32), loaded *string) Loader {
	return func(dir string) (Predictor, error) {
		if loaded != nil {
			*loaded = dir
		}
		b, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			return nil, err
		}
		return &fakeModel{weights: b, perturb: perturb}, nil
	}
}

// sample makes n images whose first byte is the image index.
func sample(n int) []uint8 {
	out := make([]uint8, n*RecordSize)
	for i := range n {
		rec := out[i*RecordSize:]
		for j := range RecordSize {
			rec[j] = uint8((i*31 + j*7) % 251)
		}
		rec[0] = uint8(i)
	}
	return out
}

const ref = "ghcr.io/o/r@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// expected computes the evaluated model's predictions the way the pipeline
// does: Predictions on the local model.
func expected(t *testing.T, dir string, images []uint8, n int) []float32 {
	t.Helper()
	p, err := loader(nil, nil)(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Predictions(context.Background(), p, images, n, DefaultBatchSize)
	if err != nil {
		t.Fatal(err)
	}
	return want
}

func TestCheckPassesForTheSameModel(t *testing.T) {
	const n = 150 // three batches, the last partial
	src := modelDir(t, "weights-v1")
	images := sample(n)
	want := expected(t, src, images, n)
	puller := &copyPuller{src: src}
	var loadedFrom string
	work := t.TempDir()
	c := New(puller, loader(nil, &loadedFrom), WithWorkDir(work), WithWeightsSHA256(sha256hex("weights-v1")))
	res, err := c.Check(context.Background(), ref, images, n, want)
	if err != nil {
		t.Fatalf("check of the same model failed: %v", err)
	}
	if res.Images != n || res.Classes != classes || res.Ref != ref {
		t.Errorf("result %+v", res)
	}
	if len(puller.refs) != 1 || puller.refs[0] != ref {
		t.Errorf("pulled %v, want exactly %s", puller.refs, ref)
	}
	if !strings.HasPrefix(loadedFrom, work) {
		t.Errorf("loaded from %q, want a folder under the work dir %q", loadedFrom, work)
	}
	if _, err := os.Stat(loadedFrom); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the extracted folder %s was left behind", loadedFrom)
	}
}

func TestCheckFindsOneDifferingImage(t *testing.T) {
	const n = 100
	src := modelDir(t, "weights-v1")
	images := sample(n)
	want := expected(t, src, images, n)
	for _, tc := range []struct {
		name      string
		perturb   func([]float32)
		classDiff int
	}{
		{"one ulp", func(row []float32) { row[2] = math.Nextafter32(row[2], 1) }, 0},
		{"different class", func(row []float32) { row[0], row[9] = 0.99, 0.001 }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(&copyPuller{src: src}, loader(map[uint8]func([]float32){42: tc.perturb}, nil), WithWorkDir(t.TempDir()))
			_, err := c.Check(context.Background(), ref, images, n, want)
			var me *MismatchError
			if !errors.As(err, &me) {
				t.Fatalf("err = %v, want a *MismatchError", err)
			}
			if me.Differ != 1 || me.ClassDiffer != tc.classDiff || len(me.First) != 1 || me.First[0] != 42 || me.Images != n {
				t.Errorf("mismatch %+v, want image 42 only, %d class changes", me, tc.classDiff)
			}
			if msg := err.Error(); !strings.Contains(msg, "1 of 100") || !strings.Contains(msg, "[42]") || !strings.Contains(msg, "do not publish") {
				t.Errorf("message %q does not say how many differ, which, and what to do", msg)
			}
		})
	}
}

func TestCheckDifferentWeights(t *testing.T) {
	const n = 20
	images := sample(n)
	want := expected(t, modelDir(t, "weights-v1"), images, n)
	other := modelDir(t, "weights-v2-retrained")

	// Without a digest, the predictions give it away.
	_, err := New(&copyPuller{src: other}, loader(nil, nil), WithWorkDir(t.TempDir())).Check(context.Background(), ref, images, n, want)
	var me *MismatchError
	if !errors.As(err, &me) || me.Differ == 0 || len(me.First) > maxListed {
		t.Fatalf("err = %v, want a mismatch listing at most %d images", err, maxListed)
	}

	// With the evaluated weights digest, the hash does, before loading.
	loaded := ""
	_, err = New(&copyPuller{src: other}, loader(nil, &loaded), WithWorkDir(t.TempDir()), WithWeightsSHA256("sha256:"+sha256hex("weights-v1"))).Check(context.Background(), ref, images, n, want)
	var we *WeightsError
	if !errors.As(err, &we) || we.Want != sha256hex("weights-v1") || we.Got != sha256hex("weights-v2-retrained") {
		t.Fatalf("err = %v, want a *WeightsError", err)
	}
	if loaded != "" {
		t.Error("the model was loaded although its weights were wrong")
	}
}

func TestCheckRejectsBadArguments(t *testing.T) {
	src := modelDir(t, "w")
	images := sample(4)
	want := expected(t, src, images, 4)
	c := New(&copyPuller{src: src}, loader(nil, nil), WithWorkDir(t.TempDir()))
	for name, tc := range map[string]struct {
		ref    string
		images []uint8
		n      int
		want   []float32
		has    string
	}{
		"tag, not digest": {"ghcr.io/o/r:v1.0.0", images, 4, want, "not pinned by digest"},
		"short sample":    {ref, images[:100], 4, want, "bytes for 4 images"},
		"ragged expected": {ref, images, 4, want[:len(want)-1], "whole number of rows"},
		"no images":       {ref, nil, 0, want, "bytes for 0 images"},
		"fewer classes":   {ref, images, 4, want[:4*(classes-1)], "probabilities per image"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Check(context.Background(), tc.ref, tc.images, tc.n, tc.want)
			if err == nil || !strings.Contains(err.Error(), tc.has) {
				t.Errorf("err = %v, want one containing %q", err, tc.has)
			}
		})
	}
}

func TestCheckPullFailure(t *testing.T) {
	images := sample(2)
	want := expected(t, modelDir(t, "w"), images, 2)
	c := New(&copyPuller{err: errors.New("manifest unknown")}, loader(nil, nil), WithWorkDir(t.TempDir()))
	_, err := c.Check(context.Background(), ref, images, 2, want)
	if err == nil || !strings.Contains(err.Error(), "pulling "+ref) || !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("err = %v, want the pull error with the reference", err)
	}
}

func TestPredictionsBatches(t *testing.T) {
	m := &fakeModel{weights: []byte("w")}
	out, err := Predictions(context.Background(), m, sample(10), 10, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 10*classes || len(m.batches) != 3 || m.batches[0] != 4 || m.batches[2] != 2 {
		t.Errorf("%d probabilities in batches %v, want 100 in 4,4,2", len(out), m.batches)
	}
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
