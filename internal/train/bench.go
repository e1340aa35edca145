package train

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/model"
)

// Benchmark runs the real training loop for one epoch over n random images
// (10 classes) and returns the training throughput in images per second:
// forward, backward, optimizer and augmentation, no validation. It is the
// Go side of bench/train.
func Benchmark(ctx context.Context, cfg config.Config, n int) (float64, error) {
	dir, err := os.MkdirTemp("", "model-release-bench-")
	if err != nil {
		return 0, fmt.Errorf("benchmark work dir: %w", err)
	}
	defer os.RemoveAll(dir)
	cfg.WorkDir, cfg.Epochs, cfg.Resume, cfg.Patience = dir, 1, false, 0
	defer useThreads(cfg.Threads)()
	r := rand.New(rand.NewPCG(1, 2))
	data := Data{Classes: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, Digest: "random"}
	data.Train.Images = make([]uint8, n*model.ImageSize)
	data.Train.Labels = make([]uint8, n)
	for i := range data.Train.Images {
		data.Train.Images[i] = uint8(r.IntN(256))
	}
	for i := range data.Train.Labels {
		data.Train.Labels[i] = uint8(r.IntN(10))
	}
	arch, err := model.LookupArch(cfg.Architecture, 10)
	if err != nil {
		return 0, err
	}
	layers, err := model.NewLayers(cfg.Kernels)
	if err != nil {
		return 0, err
	}
	t, err := newTrainer(cfg, data, arch, layers, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return 0, err
	}
	defer t.net.Close()
	t.bar = &bar{}
	if err := t.loop(ctx); err != nil {
		return 0, err
	}
	return t.st.History[0].ImagesPerSec, nil
}
