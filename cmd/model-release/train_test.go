package main

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/dataset"
	"github.com/model-release/model-release/internal/metrics"
)

// train -> evaluate -> predict through the CLI on the embedded sample: the
// evaluation reproduces the training run's metrics exactly, since both
// predict through the same path.
func TestTrainEvaluatePredict(t *testing.T) {
	work := t.TempDir()
	out, errOut, code := runCLI(t, nil, "train", "--work-dir", work, "--architecture", "seed",
		"--epochs", "1", "--batch-size", "64", "--validation-split", "0.1", "--learning-rate", "0.01")
	if code != 0 {
		t.Fatalf("train exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "accuracy") || !strings.Contains(errOut, "msg=epoch") {
		t.Errorf("train output: %q\nlog: %s", out, errOut)
	}
	trained, err := metrics.Read(filepath.Join(work, metrics.FileName))
	if err != nil {
		t.Fatal(err)
	}
	modelDir := filepath.Join(work, "model")
	out, errOut, code = runCLI(t, nil, "evaluate", "--model", modelDir, "--json")
	if code != 0 {
		t.Fatalf("evaluate exit %d: %s", code, errOut)
	}
	var got metrics.Metrics
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("evaluate --json: %v\n%s", err, out)
	}
	if got.Accuracy != trained.Accuracy || got.MeanLoss != trained.MeanLoss || got.Samples != trained.Samples {
		t.Errorf("evaluate gave accuracy %v loss %v on %d, training recorded %v %v on %d",
			got.Accuracy, got.MeanLoss, got.Samples, trained.Accuracy, trained.MeanLoss, trained.Samples)
	}

	// predict: one sample test image written as PNG.
	ds, err := dataset.Sample()
	if err != nil {
		t.Fatal(err)
	}
	px := ds.Test.Image(0)
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			i := y*32 + x
			img.Set(x, y, color.RGBA{px[i], px[1024+i], px[2048+i], 255})
		}
	}
	pngPath := filepath.Join(t.TempDir(), "img.png")
	f, _ := os.Create(pngPath)
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, errOut, code = runCLI(t, nil, "predict", "--model", modelDir, "--json", pngPath)
	if code != 0 {
		t.Fatalf("predict exit %d: %s", code, errOut)
	}
	var preds []prediction
	if err := json.Unmarshal([]byte(out), &preds); err != nil || len(preds) != 1 || len(preds[0].Top3) != 3 {
		t.Fatalf("predict --json: %v\n%s", err, out)
	}
	if p := preds[0]; p.Class != p.Top3[0].Class || p.Top3[0].Probability < p.Top3[1].Probability {
		t.Errorf("prediction not sorted: %+v", p)
	}

	if _, _, code := runCLI(t, nil, "evaluate"); code != 2 {
		t.Errorf("evaluate without --model: exit %d, want 2", code)
	}
	if _, _, code := runCLI(t, nil, "predict", "--model", modelDir); code != 2 {
		t.Errorf("predict without images: exit %d, want 2", code)
	}
}
