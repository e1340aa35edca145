// Package train trains a CIFAR-10 network: softmax cross-entropy, SGD with
// momentum or AdamW, a learning-rate schedule, crop-and-flip augmentation,
// per-epoch validation with early stopping, and a checkpoint after every
// epoch (and on cancellation) that --resume continues from exactly.
package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/dataset"
	"github.com/model-release/model-release/internal/evaluate"
	"github.com/model-release/model-release/internal/kernels"
	"github.com/model-release/model-release/internal/metrics"
	"github.com/model-release/model-release/internal/model"
)

// Folders under the work dir.
const (
	ModelDir      = "model"
	CheckpointDir = "checkpoint"
)

// Streams of the seeded PCG generator, so weight init, shuffling and
// augmentation draw independent numbers from one seed.
const (
	streamInit = 0x696e6974 // "init"
	streamAug  = 0x61756720 // "aug "
	streamPerm = 0x7065726d // "perm", plus the epoch
)

// Options are the parts of a run that are not configuration.
type Options struct {
	Log *slog.Logger
	// Progress receives a progress bar (a terminal outside CI); nil for
	// plain per-epoch lines only.
	Progress io.Writer
	// GitCommit is recorded in model.json (see GitCommit).
	GitCommit string

	afterStep func(epoch, step int) // test hook
}

// Result is a finished training run.
type Result struct {
	Model   *model.Model
	Metrics *metrics.Metrics // on the test split, else the validation split
	History []metrics.Epoch
	// ModelDir holds the saved model; MetricsPath is <work-dir>/metrics.json.
	ModelDir, MetricsPath string
	Resumed               bool
	StoppedEarly          bool
}

// Run trains according to cfg and saves the model folder, metrics.json and
// checkpoints under cfg.WorkDir. A cancelled ctx saves a checkpoint and
// returns an error wrapping ctx.Err().
func Run(ctx context.Context, cfg config.Config, data Data, opts Options) (*Result, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	k := len(data.Classes)
	if err := data.Train.check("train", k); err != nil {
		return nil, err
	}
	if data.Train.Len() == 0 {
		return nil, fmt.Errorf("training split is empty: check --data")
	}
	if err := data.Val.check("validation", k); err != nil {
		return nil, err
	}
	if err := data.Test.check("test", k); err != nil {
		return nil, err
	}
	arch, err := model.LookupArch(cfg.Architecture, k)
	if err != nil {
		return nil, fmt.Errorf("option \"architecture\": %w", err)
	}
	layers, err := model.NewLayers(cfg.Kernels)
	if err != nil {
		return nil, fmt.Errorf("option \"kernels\": %w", err)
	}
	// The GPU runs this project's own ops, so it needs the fast kernels;
	// auto falls back to the CPU (and says why), gpu without one is an error.
	if cfg.Device == "gpu" && cfg.Kernels != "fast" {
		return nil, fmt.Errorf("option \"device\": gpu needs --kernels fast (gorgonia's stock ops run on the CPU only)")
	}
	if cfg.Kernels == "fast" {
		if _, err := kernels.SelectDevice(cfg.Device, log); err != nil {
			return nil, fmt.Errorf("option \"device\": %w", err)
		}
		defer kernels.ReleaseDevice()
	}
	defer useThreads(cfg.Threads)()

	t, err := newTrainer(cfg, data, arch, layers, log)
	if err != nil {
		return nil, err
	}
	defer t.net.Close()
	if cfg.Patience > 0 && data.Val.Len() == 0 {
		log.Warn("patience is set but there is no validation split: early stopping is off; set validation-split above 0")
	}
	t.afterStep = opts.afterStep
	t.bar = &bar{w: opts.Progress}
	res := &Result{}
	if cfg.Resume {
		switch err := t.resume(); {
		case errors.Is(err, errNoCheckpoint):
			log.Info("no checkpoint to resume from; starting from scratch", "dir", t.ckDir)
		case err != nil:
			return nil, err
		default:
			res.Resumed = true
			log.Info("resuming", "epoch", t.st.Epoch+1, "step", t.st.Step, "checkpoint", t.ckDir)
		}
	}
	if err := t.loop(ctx); err != nil {
		return nil, err
	}
	return t.finish(ctx, res, opts.GitCommit)
}

type trainer struct {
	cfg   config.Config
	data  Data
	arch  model.Arch
	log   *slog.Logger
	bar   *bar
	ckDir string

	net     *model.Net
	target  *tensor.Dense
	tgtNode *G.Node
	loss    *G.Node
	grads   []*G.Node
	opt     *optimizer
	norm    *normalizer
	pcg     *rand.PCG
	aug     *rand.Rand
	batch   int
	st      *state
	best    []model.Tensor // weights of the best validation epoch (patience > 0)

	afterStep func(epoch, step int)
}

func newTrainer(cfg config.Config, data Data, arch model.Arch, layers model.Layers, log *slog.Logger) (*trainer, error) {
	n, k := data.Train.Len(), len(data.Classes)
	t := &trainer{cfg: cfg, data: data, arch: arch, log: log, batch: min(cfg.BatchSize, n),
		ckDir: filepath.Join(cfg.WorkDir, CheckpointDir)}
	mean, std := (&dataset.Split{Images: data.Train.Images, Labels: data.Train.Labels}).MeanStd()
	for c := range std {
		if std[c] == 0 {
			std[c] = 1 // a constant channel: avoid dividing by zero
		}
	}
	t.norm = newNormalizer(mean, std)
	t.st = &state{
		Version: stateVersion, Architecture: arch.Name, Classes: data.Classes, Seed: cfg.Seed,
		BatchSize: cfg.BatchSize, Optimizer: cfg.Optimizer, DatasetDigest: data.Digest, TrainImages: n,
		Mean: mean, Std: std,
	}
	weights := arch.Init(rand.New(rand.NewPCG(uint64(cfg.Seed), streamInit)))
	t.pcg = rand.NewPCG(uint64(cfg.Seed), streamAug)
	t.aug = rand.New(t.pcg)

	net, err := model.NewNet(arch, weights, t.batch, layers, true)
	if err != nil {
		return nil, fmt.Errorf("building training graph: %w", err)
	}
	t.net = net
	g := net.Graph
	t.target = tensor.New(tensor.WithShape(t.batch, k), tensor.WithBacking(make([]float32, t.batch*k)))
	t.tgtNode = G.NewMatrix(g, G.Float32, G.WithShape(t.batch, k), G.WithName("target"), G.WithValue(t.target))
	// Loss: -sum(target * log_softmax(logits)); the target rows hold
	// 1/count at the label, so this is the mean over the real images and
	// padding rows of a last partial batch count for nothing.
	if t.loss, err = crossEntropy(net.Logits, t.tgtNode); err != nil {
		return nil, fmt.Errorf("building loss: %w", err)
	}
	if t.grads, err = G.Grad(t.loss, net.Params...); err != nil {
		return nil, fmt.Errorf("building gradients: %w", err)
	}
	if err := net.Compile(); err != nil {
		return nil, err
	}
	sizes := make([]int, len(net.Tensors))
	for i, p := range net.Tensors {
		sizes[i] = len(p.Data)
	}
	if t.opt, err = newOptimizer(cfg.Optimizer, cfg.Momentum, cfg.WeightDecay, sizes); err != nil {
		return nil, fmt.Errorf("option \"optimizer\": %w", err)
	}
	return t, nil
}

// resume loads the checkpoint and checks it belongs to this run.
func (t *trainer) resume() error {
	ck, err := loadCheckpoint(t.ckDir)
	if err != nil {
		return err
	}
	s := ck.state
	mismatch := func(what string, got, want any) error {
		return fmt.Errorf("checkpoint in %s was made with %s %v, this run has %v: resume with the same settings, or delete the folder to start over", t.ckDir, what, got, want)
	}
	switch {
	case s.Architecture != t.st.Architecture:
		return mismatch("architecture", s.Architecture, t.st.Architecture)
	case s.Seed != t.st.Seed:
		return mismatch("seed", s.Seed, t.st.Seed)
	case s.BatchSize != t.st.BatchSize:
		return mismatch("batch-size", s.BatchSize, t.st.BatchSize)
	case s.Optimizer != t.st.Optimizer:
		return mismatch("optimizer", s.Optimizer, t.st.Optimizer)
	case s.DatasetDigest != t.st.DatasetDigest || s.TrainImages != t.st.TrainImages:
		return mismatch("dataset", fmt.Sprintf("%s (%d training images)", s.DatasetDigest, s.TrainImages), fmt.Sprintf("%s (%d)", t.st.DatasetDigest, t.st.TrainImages))
	case strings.Join(s.Classes, ",") != strings.Join(t.st.Classes, ","):
		return mismatch("classes", s.Classes, t.st.Classes)
	}
	ws := t.net.Weights()
	names := make([]string, len(ws))
	dst := make([][]float32, len(ws))
	for i, w := range ws {
		names[i], dst[i] = w.Name, w.Data
	}
	if err := ck.restoreInto("", names, dst); err != nil {
		return err
	}
	tnames := make([]string, len(t.net.Tensors))
	for i, p := range t.net.Tensors {
		tnames[i] = p.Name
	}
	if err := ck.restoreInto("optimizer.m.", tnames, t.opt.m); err != nil {
		return err
	}
	if t.opt.v != nil {
		if err := ck.restoreInto("optimizer.v.", tnames, t.opt.v); err != nil {
			return err
		}
	}
	if _, ok := ck.tensors["best."+names[0]]; ok {
		t.best = make([]model.Tensor, len(ws))
		bdst := make([][]float32, len(ws))
		for i, w := range ws {
			t.best[i] = model.Tensor{Name: w.Name, Shape: w.Shape, Data: make([]float32, len(w.Data))}
			bdst[i] = t.best[i].Data
		}
		if err := ck.restoreInto("best.", names, bdst); err != nil {
			return err
		}
	}
	if err := t.pcg.UnmarshalBinary(s.RNG); err != nil {
		return fmt.Errorf("checkpoint in %s: random state: %w", t.ckDir, err)
	}
	t.opt.steps = s.OptSteps
	s.Mean, s.Std = t.st.Mean, t.st.Std
	*t.st = s
	return nil
}

func (t *trainer) save() error {
	rng, err := t.pcg.MarshalBinary()
	if err != nil {
		return fmt.Errorf("saving random state: %w", err)
	}
	t.st.RNG = rng
	t.st.OptSteps = t.opt.steps
	return saveCheckpoint(t.ckDir, t.st, t.net.Weights(), t.opt, t.net.Tensors, t.best)
}

func (t *trainer) loop(ctx context.Context) error {
	cfg, st := t.cfg, t.st
	n, k, b := t.data.Train.Len(), len(t.data.Classes), t.batch
	steps := (n + b - 1) / b
	total := cfg.Epochs * steps
	warmup := int(math.Round(cfg.WarmupEpochs * float64(steps)))
	in, tgt := t.net.InputData(), t.target.Data().([]float32)
	params := make([][]float32, len(t.net.Tensors))
	for i, p := range t.net.Tensors {
		params[i] = p.Data
	}
	grads := make([][]float32, len(t.grads))
	var aug *rand.Rand
	if cfg.Augment {
		aug = t.aug
	}
	for ; st.Epoch < cfg.Epochs && !st.Done; st.Epoch++ {
		perm := rand.New(rand.NewPCG(uint64(cfg.Seed), streamPerm+uint64(st.Epoch))).Perm(n)
		start := time.Now()
		prior := st.Seconds
		lr := 0.0
		for ; st.Step < steps; st.Step++ {
			if err := ctx.Err(); err != nil {
				st.Seconds = prior + time.Since(start).Seconds()
				t.bar.clear()
				if serr := t.save(); serr != nil {
					return errors.Join(fmt.Errorf("training interrupted: %w", err), serr)
				}
				t.log.Info("training interrupted; checkpoint saved, continue with --resume", "epoch", st.Epoch+1, "step", st.Step, "dir", t.ckDir)
				return fmt.Errorf("training interrupted in epoch %d: %w", st.Epoch+1, err)
			}
			lo := st.Step * b
			cnt := min(b, n-lo)
			clear(tgt)
			for i := 0; i < b; i++ {
				// A last partial batch is filled from the start of the
				// epoch's order; those rows get zero loss weight.
				idx := perm[(lo+i)%n]
				t.norm.write(in[i*model.ImageSize:(i+1)*model.ImageSize], t.data.Train.image(idx), aug)
				if i < cnt {
					tgt[i*k+int(t.data.Train.Labels[idx])] = 1 / float32(cnt)
				}
			}
			if err := G.Let(t.tgtNode, t.target); err != nil {
				return fmt.Errorf("setting targets: %w", err)
			}
			if err := t.net.Run(); err != nil {
				return err
			}
			loss := float64(t.loss.Value().Data().(float32))
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return fmt.Errorf("training diverged in epoch %d (loss %v): lower --learning-rate", st.Epoch+1, loss)
			}
			logits := t.net.LogitsData()
			for i := 0; i < cnt; i++ {
				if argmax(logits[i*k:(i+1)*k]) == int(t.data.Train.Labels[perm[(lo+i)%n]]) {
					st.Correct++
				}
			}
			st.LossSum += loss * float64(cnt)
			st.Seen += cnt
			for i, g := range t.grads {
				grads[i] = g.Value().Data().([]float32)
			}
			lr = schedule(cfg.Schedule, cfg.LearningRate, st.Epoch*steps+st.Step, total, warmup)
			t.opt.step(params, grads, t.net.Decay, lr)
			secs := prior + time.Since(start).Seconds()
			t.bar.update(st.Epoch+1, cfg.Epochs, st.Seen, n, float64(st.Seen)/secs, st.LossSum/float64(st.Seen))
			if t.afterStep != nil {
				t.afterStep(st.Epoch, st.Step)
			}
		}
		if err := t.endEpoch(ctx, prior+time.Since(start).Seconds(), lr); err != nil {
			return err
		}
	}
	return nil
}

// endEpoch validates, records history, decides on early stopping and
// saves the checkpoint.
func (t *trainer) endEpoch(ctx context.Context, secs, lr float64) error {
	st := t.st
	t.bar.clear()
	e := metrics.Epoch{
		Epoch: st.Epoch + 1, LearningRate: lr, Seconds: secs,
		TrainLoss: st.LossSum / float64(st.Seen), TrainAccuracy: float64(st.Correct) / float64(st.Seen),
		ImagesPerSec: float64(st.Seen) / secs,
	}
	attrs := []any{"epoch", fmt.Sprintf("%d/%d", e.Epoch, t.cfg.Epochs), "loss", round(e.TrainLoss, 4), "train_acc", round(e.TrainAccuracy, 4)}
	if t.data.Val.Len() > 0 {
		m, err := t.snapshot()
		if err != nil {
			return err
		}
		vm, err := evaluate.Evaluate(ctx, m, t.data.Val.Images, t.data.Val.Labels, t.data.Classes)
		if err != nil {
			return fmt.Errorf("validating epoch %d: %w", e.Epoch, err)
		}
		e.ValLoss, e.ValAccuracy = vm.MeanLoss, vm.Accuracy
		attrs = append(attrs, "val_loss", round(e.ValLoss, 4), "val_acc", round(e.ValAccuracy, 4))
		if st.BestEpoch == 0 || e.ValAccuracy > st.BestAcc {
			st.BestAcc, st.BestEpoch = e.ValAccuracy, e.Epoch
			if t.cfg.Patience > 0 {
				t.best = m.Weights()
			}
		} else if t.cfg.Patience > 0 && e.Epoch-st.BestEpoch >= t.cfg.Patience {
			st.Done = true
		}
	}
	attrs = append(attrs, "img_per_s", math.Round(e.ImagesPerSec), "lr", round(lr, 6), "seconds", math.Round(secs))
	t.log.Info("epoch", attrs...)
	st.History = append(st.History, e)
	st.Step, st.LossSum, st.Correct, st.Seen, st.Seconds = 0, 0, 0, 0, 0
	if st.Done {
		t.log.Info("stopping early: validation accuracy has not improved", "patience", t.cfg.Patience, "best_epoch", st.BestEpoch, "best_val_acc", round(st.BestAcc, 4))
	}
	// The checkpoint names the next epoch; st.Epoch++ happens in the loop.
	st.Epoch++
	err := t.save()
	st.Epoch--
	return err
}

// snapshot is a model of the current weights, for validation.
func (t *trainer) snapshot() (*model.Model, error) {
	return model.New(t.metadata(), t.net.Weights())
}

func (t *trainer) metadata() model.Metadata {
	cfg := t.cfg
	return model.Metadata{
		Architecture: t.arch.Name, Classes: t.data.Classes, Mean: t.st.Mean, Std: t.st.Std,
		DatasetDigest: t.data.Digest, Seed: cfg.Seed, History: t.st.History,
		Training: model.TrainingConfig{
			Epochs: cfg.Epochs, EpochsRun: len(t.st.History), BatchSize: cfg.BatchSize, LearningRate: cfg.LearningRate,
			Optimizer: cfg.Optimizer, Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay, Schedule: cfg.Schedule,
			WarmupEpochs: cfg.WarmupEpochs, Augment: cfg.Augment, Patience: cfg.Patience,
			ValidationSplit: cfg.ValidationSplit, Kernels: cfg.Kernels,
			TrainImages: t.data.Train.Len(), ValImages: t.data.Val.Len(),
		},
	}
}

// finish builds the final model (the best validation epoch's weights when
// early stopping is on), evaluates it and saves everything.
func (t *trainer) finish(ctx context.Context, res *Result, commit string) (*Result, error) {
	weights := t.net.Weights()
	if t.best != nil {
		weights = t.best
	}
	meta := t.metadata()
	meta.GitCommit = commit
	meta.Created = time.Now().UTC().Truncate(time.Second)
	m, err := model.New(meta, weights)
	if err != nil {
		return nil, err
	}
	split, eval := "test", t.data.Test
	if eval.Len() == 0 {
		split, eval = "validation", t.data.Val
	}
	if eval.Len() == 0 {
		t.log.Warn("no test or validation images: final metrics are on the training images")
		split, eval = "train", t.data.Train
	}
	met, err := evaluate.Evaluate(ctx, m, eval.Images, eval.Labels, t.data.Classes)
	if err != nil {
		return nil, fmt.Errorf("final evaluation: %w", err)
	}
	met.Architecture, met.Split, met.DatasetDigest = t.arch.Name, split, t.data.Digest
	meta.Metrics = met
	if err := m.SetMetadata(meta); err != nil {
		return nil, err
	}
	res.Model, res.Metrics, res.History, res.StoppedEarly = m, met, t.st.History, t.st.Done
	res.ModelDir = filepath.Join(t.cfg.WorkDir, ModelDir)
	res.MetricsPath = filepath.Join(t.cfg.WorkDir, metrics.FileName)
	if err := m.Save(res.ModelDir); err != nil {
		return nil, err
	}
	if err := metrics.Write(res.MetricsPath, met); err != nil {
		return nil, err
	}
	t.log.Info("model saved", "dir", res.ModelDir, "split", split, "accuracy", round(met.Accuracy, 4), "top3", round(met.Top3Accuracy, 4))
	return res, nil
}

func argmax(row []float32) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// GitCommit returns the commit being built: GITHUB_SHA in Actions, else
// `git rev-parse HEAD` in the current directory, else "".
func GitCommit(ctx context.Context, lookupEnv func(string) (string, bool)) string {
	if v, ok := lookupEnv("GITHUB_SHA"); ok && v != "" {
		return v
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "HEAD")
	cmd.Stderr = nil
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
