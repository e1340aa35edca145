// Package deploycheck proves that a pushed model image holds the model that
// was evaluated: it pulls the image by digest, loads the model from it,
// predicts a held-out sample and compares every predicted class and every
// probability bit for bit with the evaluation run. A mismatch is a typed
// error, so the pipeline stops before it publishes.
package deploycheck

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// RecordSize is the byte length of one raw CHW uint8 32x32 image.
const RecordSize = 3 * 32 * 32

// DefaultBatchSize is how many images go to Predict per call, on both sides
// of the comparison (batching must match for results to be bit-exact).
const DefaultBatchSize = 64

// maxListed bounds the differing indices named in a MismatchError.
const maxListed = 5

// ModelPuller pulls a model image and extracts its model folder into dest.
type ModelPuller interface {
	PullModel(ctx context.Context, ref, dest string) error
}

// Predictor classifies n raw CHW uint8 32x32 records into n rows of
// per-class probabilities.
type Predictor interface {
	Predict(images []uint8, n int) ([]float32, error)
}

// Loader loads the model in a folder.
type Loader func(dir string) (Predictor, error)

// Checker runs deployment checks.
type Checker struct {
	puller  ModelPuller
	load    Loader
	workDir string
	batch   int
	weights string
}

// Option configures a Checker.
type Option func(*Checker)

// WithWorkDir sets the folder under which the image is extracted (default:
// the system temp dir); the extracted copy is removed afterwards.
func WithWorkDir(dir string) Option { return func(c *Checker) { c.workDir = dir } }

// WithBatchSize sets the images per Predict call; use the batch size the
// expected predictions were made with.
func WithBatchSize(n int) Option { return func(c *Checker) { c.batch = n } }

// WithWeightsSHA256 also requires the pulled model.safetensors to have this
// hex SHA-256 (the weights_sha256 of the evaluated model's metadata).
func WithWeightsSHA256(hexDigest string) Option {
	return func(c *Checker) { c.weights = strings.ToLower(strings.TrimPrefix(hexDigest, "sha256:")) }
}

// New returns a Checker that pulls with p and loads with load.
func New(p ModelPuller, load Loader, opts ...Option) *Checker {
	c := &Checker{puller: p, load: load, batch: DefaultBatchSize}
	for _, o := range opts {
		o(c)
	}
	if c.batch < 1 {
		c.batch = DefaultBatchSize
	}
	return c
}

// Result describes a passed check.
type Result struct {
	Ref     string
	Images  int
	Classes int
	Seconds float64
}

// Check pulls ref (an image reference that should be pinned by digest),
// predicts the n records in images with the model it contains and compares
// the probabilities with want (n rows, from the evaluation run or from
// Predictions on the local model). It returns a *MismatchError when any
// value differs in any bit, and a *WeightsError when WithWeightsSHA256 was
// given and the pulled weights differ.
func (c *Checker) Check(ctx context.Context, ref string, images []uint8, n int, want []float32) (*Result, error) {
	start := time.Now()
	if n < 1 || len(images) != n*RecordSize {
		return nil, fmt.Errorf("deployment check of %s: the sample has %d bytes for %d images; want %d bytes (%d per 32x32 RGB image)", ref, len(images), n, n*RecordSize, RecordSize)
	}
	if len(want) == 0 || len(want)%n != 0 {
		return nil, fmt.Errorf("deployment check of %s: %d expected probabilities are not a whole number of rows for %d images", ref, len(want), n)
	}
	if !strings.Contains(ref, "@sha256:") {
		return nil, fmt.Errorf("deployment check: image %q is not pinned by digest; pass name@sha256:<digest> so the checked image is the one published", ref)
	}

	dir, err := os.MkdirTemp(c.workDir, "deploycheck-*")
	if err != nil {
		return nil, fmt.Errorf("deployment check of %s: making a folder to extract it: %w", ref, err)
	}
	defer os.RemoveAll(dir)

	if err := c.puller.PullModel(ctx, ref, dir); err != nil {
		return nil, fmt.Errorf("deployment check: pulling %s: %w", ref, err)
	}
	if c.weights != "" {
		if err := checkWeights(ref, filepath.Join(dir, "model.safetensors"), c.weights); err != nil {
			return nil, err
		}
	}
	p, err := c.load(dir)
	if err != nil {
		return nil, fmt.Errorf("deployment check: loading the model from %s: %w", ref, err)
	}
	got, err := Predictions(ctx, p, images, n, c.batch)
	if err != nil {
		return nil, fmt.Errorf("deployment check: predicting with %s: %w", ref, err)
	}
	if err := Compare(ref, got, want, n); err != nil {
		return nil, err
	}
	return &Result{Ref: ref, Images: n, Classes: len(want) / n, Seconds: time.Since(start).Seconds()}, nil
}

// Predictions runs p over the n records in batches of batch images, the
// same way Check does, and returns all probabilities: use it on the local
// model to make the expected values.
func Predictions(ctx context.Context, p Predictor, images []uint8, n, batch int) ([]float32, error) {
	if batch < 1 {
		batch = DefaultBatchSize
	}
	if len(images) != n*RecordSize {
		return nil, fmt.Errorf("%d bytes are not %d images of %d bytes", len(images), n, RecordSize)
	}
	var out []float32
	classes := -1
	for lo := 0; lo < n; lo += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+batch, n)
		probs, err := p.Predict(images[lo*RecordSize:hi*RecordSize], hi-lo)
		if err != nil {
			return nil, fmt.Errorf("images %d to %d: %w", lo, hi-1, err)
		}
		if len(probs)%(hi-lo) != 0 || (classes >= 0 && len(probs) != classes*(hi-lo)) {
			return nil, fmt.Errorf("images %d to %d: the model returned %d probabilities for %d images", lo, hi-1, len(probs), hi-lo)
		}
		classes = len(probs) / (hi - lo)
		out = append(out, probs...)
	}
	return out, nil
}

// MismatchError says the deployed model does not reproduce the evaluated
// predictions.
type MismatchError struct {
	Ref          string
	Images       int     // images compared
	Differ       int     // images with at least one probability not bit-identical
	ClassDiffer  int     // images whose predicted (top-1) class differs
	First        []int   // the first few differing image indices
	MaxAbsDiff   float64 // largest absolute probability difference
	WantClasses  int     // probabilities per image expected
	GotClasses   int     // probabilities per image returned
	shapeDiffers bool
}

func (e *MismatchError) Error() string {
	if e.shapeDiffers {
		return fmt.Sprintf("deployment check failed: %s returns %d probabilities per image, the evaluated model %d; the image does not hold the evaluated model, do not publish it", e.Ref, e.GotClasses, e.WantClasses)
	}
	return fmt.Sprintf("deployment check failed: %s predicts differently from the evaluated model on %d of %d held-out images (%d with a different class, largest probability difference %.3g); first differing images: %v; the image does not hold the evaluated model, do not publish it",
		e.Ref, e.Differ, e.Images, e.ClassDiffer, e.MaxAbsDiff, e.First)
}

// Compare checks got against want (n rows each) bit for bit and returns a
// *MismatchError describing every difference, or nil.
func Compare(ref string, got, want []float32, n int) error {
	if n < 1 || len(want)%n != 0 || len(got)%n != 0 || len(got) != len(want) {
		return &MismatchError{Ref: ref, Images: n, WantClasses: len(want) / max(n, 1), GotClasses: len(got) / max(n, 1), shapeDiffers: true}
	}
	c := len(want) / n
	e := &MismatchError{Ref: ref, Images: n, WantClasses: c, GotClasses: c}
	for i := range n {
		g, w := got[i*c:(i+1)*c], want[i*c:(i+1)*c]
		differs := false
		for j := range c {
			if math.Float32bits(g[j]) != math.Float32bits(w[j]) {
				differs = true
				if d := math.Abs(float64(g[j]) - float64(w[j])); d > e.MaxAbsDiff || math.IsNaN(d) {
					e.MaxAbsDiff = d
				}
			}
		}
		if !differs {
			continue
		}
		e.Differ++
		if argmax(g) != argmax(w) {
			e.ClassDiffer++
		}
		if len(e.First) < maxListed {
			e.First = append(e.First, i)
		}
	}
	if e.Differ == 0 {
		return nil
	}
	return e
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

// WeightsError says the pulled weights file is not the evaluated one.
type WeightsError struct {
	Ref, Want, Got string
}

func (e *WeightsError) Error() string {
	return fmt.Sprintf("deployment check failed: model.safetensors in %s has SHA-256 %s, the evaluated model %s; the image does not hold the evaluated weights, do not publish it", e.Ref, e.Got, e.Want)
}

func checkWeights(ref, path, want string) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("deployment check: %s has no model.safetensors in its model folder: %w", ref, err)
		}
		return fmt.Errorf("deployment check: reading the weights of %s: %w", ref, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("deployment check: hashing the weights of %s: %w", ref, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return &WeightsError{Ref: ref, Want: want, Got: got}
	}
	return nil
}
