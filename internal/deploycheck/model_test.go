package deploycheck_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/model-release/model-release/internal/deploycheck"
	"github.com/model-release/model-release/internal/model"
)

// dirPuller extracts by copying a saved model folder.
type dirPuller struct{ src string }

func (p dirPuller) PullModel(_ context.Context, _, dest string) error {
	for _, name := range []string{model.WeightsFile, model.MetadataFile} {
		b, err := os.ReadFile(filepath.Join(p.src, name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dest, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func loadModel(dir string) (deploycheck.Predictor, error) { return model.Load(dir) }

func saveSeedModel(t *testing.T, seed uint64, dir string) {
	t.Helper()
	classes := []string{"a", "b", "c"}
	arch, err := model.LookupArch("seed", len(classes))
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(model.Metadata{Architecture: "seed", Classes: classes, Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.25, 0.25, 0.25}}, arch.Init(rand.New(rand.NewPCG(seed, 1))))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
}

// The real model, saved and loaded again from a "pulled" copy, reproduces
// its own predictions bit for bit; a model with other weights does not.
func TestCheckWithRealModel(t *testing.T) {
	const n = 5
	src, other := t.TempDir(), t.TempDir()
	saveSeedModel(t, 1, src)
	saveSeedModel(t, 2, other)
	rng := rand.New(rand.NewPCG(3, 3))
	images := make([]uint8, n*deploycheck.RecordSize)
	for i := range images {
		images[i] = uint8(rng.IntN(256))
	}
	local, err := model.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	want, err := deploycheck.Predictions(context.Background(), local, images, n, deploycheck.DefaultBatchSize)
	if err != nil {
		t.Fatal(err)
	}
	ref := "ghcr.io/o/r@sha256:" + local.Metadata().WeightsSHA256
	if _, err := deploycheck.New(dirPuller{src}, loadModel, deploycheck.WithWorkDir(t.TempDir())).Check(context.Background(), ref, images, n, want); err != nil {
		t.Fatalf("the same model failed the check: %v", err)
	}
	_, err = deploycheck.New(dirPuller{other}, loadModel, deploycheck.WithWorkDir(t.TempDir())).Check(context.Background(), ref, images, n, want)
	var me *deploycheck.MismatchError
	if !errors.As(err, &me) || me.Differ != n {
		t.Fatalf("a model with other weights: err = %v, want all %d images to differ", err, n)
	}
}
