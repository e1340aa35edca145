package train

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/dataset"
	"github.com/model-release/model-release/internal/gpu"
	"github.com/model-release/model-release/internal/model"
)

func sample(t *testing.T) Data {
	t.Helper()
	ds, err := dataset.Sample()
	if err != nil {
		t.Fatal(err)
	}
	return FromDataset(ds, 0, 1)
}

// smallConfig trains the seed model briefly: enough for the shipped sample
// (500 images) to be learnt well above chance in a few seconds.
func smallConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.WorkDir = t.TempDir()
	cfg.Architecture = "seed"
	cfg.Kernels = "fast"
	cfg.Epochs = 3
	cfg.BatchSize = 32
	cfg.Optimizer = "adamw"
	cfg.LearningRate = 1e-3
	cfg.WeightDecay = 1e-4
	cfg.Schedule = "constant"
	cfg.Augment = false
	return cfg
}

func TestLearnsTheSample(t *testing.T) {
	data := subset(sample(t), 200)
	cfg := smallConfig(t)
	cfg.Epochs = 5
	cfg.LearningRate = 2e-3
	var logBuf bytes.Buffer
	res, err := Run(context.Background(), cfg, data, Options{Log: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := res.History
	if len(h) != cfg.Epochs {
		t.Fatalf("history has %d epochs, want %d", len(h), cfg.Epochs)
	}
	if !(h[len(h)-1].TrainLoss < h[0].TrainLoss) {
		t.Errorf("loss did not go down: %v -> %v", h[0].TrainLoss, h[len(h)-1].TrainLoss)
	}
	// Chance is 0.1; a network fitting 500 images should be far above it.
	if acc := h[len(h)-1].TrainAccuracy; acc < 0.35 {
		t.Errorf("final train accuracy %.3f, want > 0.35", acc)
	}
	for _, e := range h {
		t.Logf("epoch %d: loss %.3f, train accuracy %.3f", e.Epoch, e.TrainLoss, e.TrainAccuracy)
	}
	// Final metrics are on the test split.
	if res.Metrics.Split != "test" || res.Metrics.Samples != data.Test.Len() {
		t.Errorf("metrics on %q with %d samples, want test with %d", res.Metrics.Split, res.Metrics.Samples, data.Test.Len())
	}
	if strings.Count(logBuf.String(), "msg=epoch") != cfg.Epochs {
		t.Errorf("want one log line per epoch, got:\n%s", logBuf.String())
	}
	// The saved model reloads and reproduces the final metrics exactly.
	m, err := model.Load(res.ModelDir)
	if err != nil {
		t.Fatal(err)
	}
	if md := m.Metadata(); md.Metrics == nil || md.Metrics.Accuracy != res.Metrics.Accuracy || len(md.History) != cfg.Epochs {
		t.Errorf("model.json metrics/history not recorded: %+v", md.Metrics)
	}
	if _, err := os.Stat(res.MetricsPath); err != nil {
		t.Error(err)
	}
}

func weightsOf(t *testing.T, dir string) []model.Tensor {
	t.Helper()
	m, err := model.Load(filepath.Join(dir, ModelDir))
	if err != nil {
		t.Fatal(err)
	}
	return m.Weights()
}

func sameWeights(t *testing.T, a, b []model.Tensor) {
	t.Helper()
	for i := range a {
		for j := range a[i].Data {
			if a[i].Data[j] != b[i].Data[j] {
				t.Fatalf("%s[%d]: %v vs %v", a[i].Name, j, a[i].Data[j], b[i].Data[j])
			}
		}
	}
}

// A small subset keeps the tests fast. Every (len/n)th image is taken, so
// all classes stay in (the sample is ordered by class).
func subset(d Data, n int) Data {
	pick := func(s Split, n int) Split {
		var out Split
		for i := 0; i < n; i++ {
			j := i * s.Len() / n
			out.Images = append(out.Images, s.image(j)...)
			out.Labels = append(out.Labels, s.Labels[j])
		}
		return out
	}
	d.Train = pick(d.Train, n)
	d.Test = pick(d.Test, 20)
	return d
}

func TestSameSeedSameWeightsAndResume(t *testing.T) {
	data := subset(sample(t), 100)
	cfg := smallConfig(t)
	cfg.Epochs = 2
	cfg.Augment = true
	cfg.Optimizer = "sgd"
	cfg.LearningRate = 0.01
	cfg.BatchSize = 24 // 100 images: the last batch of each epoch is partial

	run := func(cfg config.Config, hook func(e, s int), cancel context.CancelFunc, ctx context.Context) error {
		_, err := Run(ctx, cfg, data, Options{afterStep: hook})
		return err
	}
	a, b := cfg, cfg
	a.WorkDir, b.WorkDir = t.TempDir(), t.TempDir()
	if err := run(a, nil, nil, context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := run(b, nil, nil, context.Background()); err != nil {
		t.Fatal(err)
	}
	wa := weightsOf(t, a.WorkDir)
	sameWeights(t, wa, weightsOf(t, b.WorkDir))

	// Interrupted in the middle of epoch 2, then resumed: same weights as
	// the uninterrupted run.
	c := cfg
	c.WorkDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	err := run(c, func(e, s int) {
		if e == 1 && s == 1 {
			cancel()
		}
	}, cancel, ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
	}
	ck, err := loadCheckpoint(filepath.Join(c.WorkDir, CheckpointDir))
	if err != nil {
		t.Fatal(err)
	}
	if ck.state.Epoch != 1 || ck.state.Step != 2 || len(ck.state.History) != 1 {
		t.Fatalf("checkpoint at epoch %d step %d with %d history lines, want 1, 2, 1", ck.state.Epoch, ck.state.Step, len(ck.state.History))
	}
	c.Resume = true
	res, err := Run(context.Background(), c, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || len(res.History) != 2 {
		t.Fatalf("resumed=%v with %d epochs of history", res.Resumed, len(res.History))
	}
	sameWeights(t, wa, weightsOf(t, c.WorkDir))

	// A different seed gives different weights.
	d := cfg
	d.WorkDir, d.Seed = t.TempDir(), 2
	if err := run(d, nil, nil, context.Background()); err != nil {
		t.Fatal(err)
	}
	if weightsOf(t, d.WorkDir)[0].Data[0] == wa[0].Data[0] {
		t.Error("seed 2 gave the same first weight as seed 1")
	}

	// Resuming with other settings is refused.
	c.BatchSize = 16
	if _, err := Run(context.Background(), c, data, Options{}); err == nil || !strings.Contains(err.Error(), "batch-size") {
		t.Errorf("resume with another batch size: err = %v", err)
	}
}

// The convnet (batch norm) trains, and resuming across an epoch boundary
// restores its running statistics.
func TestConvnetResumeAcrossEpochs(t *testing.T) {
	data := subset(sample(t), 16)
	data.Val = subset(data, 1).Test
	cfg := smallConfig(t)
	cfg.Architecture = "convnet"
	cfg.Epochs = 2
	cfg.BatchSize = 8
	cfg.Optimizer = "sgd"
	cfg.LearningRate = 0.05
	cfg.Schedule = "onecycle"

	full := cfg
	full.WorkDir = t.TempDir()
	r1, err := Run(context.Background(), full, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r1.History[0].ValLoss == 0 {
		t.Error("no validation loss recorded")
	}
	part := cfg
	part.WorkDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	_, err = Run(ctx, part, data, Options{afterStep: func(e, s int) {
		if e == 0 && s == 1 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	part.Resume = true
	if _, err := Run(context.Background(), part, data, Options{}); err != nil {
		t.Fatal(err)
	}
	sameWeights(t, weightsOf(t, full.WorkDir), weightsOf(t, part.WorkDir))
}

func TestEarlyStopping(t *testing.T) {
	data := subset(sample(t), 40)
	data.Val = Split{Images: data.Test.Images, Labels: data.Test.Labels}
	cfg := smallConfig(t)
	cfg.Epochs = 50
	cfg.Patience = 1
	cfg.LearningRate = 1e-9 // nothing improves
	res, err := Run(context.Background(), cfg, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.StoppedEarly || len(res.History) != 2 {
		t.Errorf("stopped early=%v after %d epochs, want true after 2", res.StoppedEarly, len(res.History))
	}
}

// The device choice: gpu without a usable GPU is an error before any
// training, never a silent CPU run; stock kernels cannot run on the GPU.
func TestDeviceSelection(t *testing.T) {
	data := subset(sample(t), 64)
	cfg := smallConfig(t)
	cfg.Epochs = 1
	cfg.Device = "gpu"
	cfg.Kernels = "stock"
	if _, err := Run(context.Background(), cfg, data, Options{}); err == nil || !strings.Contains(err.Error(), "--kernels fast") {
		t.Errorf("gpu with stock kernels: err = %v", err)
	}
	if _, err := gpu.Probe(); err == nil {
		t.Skip("a GPU is present: the no-GPU error path cannot be checked here")
	}
	cfg.Kernels = "fast"
	_, err := Run(context.Background(), cfg, data, Options{})
	if err == nil || !strings.Contains(err.Error(), `option "device"`) {
		t.Errorf("gpu without a GPU: err = %v, want an error naming the device option", err)
	}
	cfg.Device = "auto"
	if _, err := Run(context.Background(), cfg, data, Options{}); err != nil {
		t.Errorf("auto without a GPU should train on the CPU: %v", err)
	}
}
