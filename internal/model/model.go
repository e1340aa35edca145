// Package model defines the CIFAR-10 networks (built with gorgonia), the
// portable model file (safetensors weights plus a model.json metadata
// document) and the one prediction path that evaluation and serving share.
package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/model-release/model-release/internal/metrics"
)

// File names inside a model folder (the contract with registry, serve and
// release).
const (
	WeightsFile  = "model.safetensors"
	MetadataFile = "model.json"
)

// SchemaVersion of model.json; bumped on incompatible changes.
const SchemaVersion = 1

// Metadata is model.json: everything needed to use, reproduce and audit
// the weights beside it.
type Metadata struct {
	Schema       int         `json:"schema"`
	Architecture string      `json:"architecture"`
	Layers       []Layer     `json:"layers"`
	Tensors      []ParamSpec `json:"tensors"`
	Classes      []string    `json:"classes"`
	// InputShape is one image record: channels, height, width (uint8 CHW).
	InputShape []int `json:"input_shape"`
	// Mean and Std normalise input as (pixel/255 - Mean[c]) / Std[c].
	Mean          [3]float32       `json:"mean"`
	Std           [3]float32       `json:"std"`
	DatasetDigest string           `json:"dataset_digest,omitempty"`
	Training      TrainingConfig   `json:"training"`
	Seed          int64            `json:"seed"`
	History       []metrics.Epoch  `json:"history,omitempty"`
	Metrics       *metrics.Metrics `json:"metrics,omitempty"`
	GitCommit     string           `json:"git_commit,omitempty"`
	Created       time.Time        `json:"created"`
	// WeightsSHA256 is the hex SHA-256 of model.safetensors, set by Save.
	WeightsSHA256 string `json:"weights_sha256"`
}

// TrainingConfig records how the weights were trained.
type TrainingConfig struct {
	Epochs          int     `json:"epochs"`
	EpochsRun       int     `json:"epochs_run"`
	BatchSize       int     `json:"batch_size"`
	LearningRate    float64 `json:"learning_rate"`
	Optimizer       string  `json:"optimizer"`
	Momentum        float64 `json:"momentum"`
	WeightDecay     float64 `json:"weight_decay"`
	Schedule        string  `json:"schedule"`
	WarmupEpochs    float64 `json:"warmup_epochs"`
	Augment         bool    `json:"augment"`
	Patience        int     `json:"patience"`
	ValidationSplit float64 `json:"validation_split"`
	Kernels         string  `json:"kernels"`
	TrainImages     int     `json:"train_images"`
	ValImages       int     `json:"validation_images"`
}

// Model is a trained network ready to predict. It is safe for concurrent
// use: each call borrows a compiled evaluation graph from a pool.
type Model struct {
	meta    Metadata
	arch    Arch
	weights []Tensor
	layers  Layers

	mu   sync.Mutex
	free map[int][]*Net // idle evaluation nets by batch size
}

// PredictBatch is the batch size of the evaluation graphs. Images are
// predicted in chunks of this size (the last chunk with a smaller graph),
// so a prediction never depends on which other images share its call.
const PredictBatch = 64

// inferenceKernels is the layer implementation used for prediction: the
// fast ops when built in, else gorgonia's. It is not a knob, so served
// predictions match evaluation bit for bit.
func inferenceKernels() string {
	if fastLayers != nil {
		return "fast"
	}
	return "stock"
}

// New makes a model from metadata and weights (copied). meta.Architecture
// and meta.Classes must be set; the weights must match the architecture.
func New(meta Metadata, weights []Tensor) (*Model, error) {
	arch, err := LookupArch(meta.Architecture, len(meta.Classes))
	if err != nil {
		return nil, err
	}
	if err := arch.checkWeights(weights); err != nil {
		return nil, err
	}
	for c := 0; c < 3; c++ {
		if !(meta.Std[c] > 0) || math.IsNaN(float64(meta.Mean[c])) {
			return nil, fmt.Errorf("normalisation mean %v / std %v: std must be positive", meta.Mean, meta.Std)
		}
	}
	layers, err := NewLayers(inferenceKernels())
	if err != nil {
		return nil, err
	}
	ws := arch.ordered(weights)
	for i := range ws {
		ws[i] = ws[i].Clone()
	}
	meta.Schema = SchemaVersion
	meta.Layers = arch.Layers
	meta.Tensors = arch.Params()
	meta.InputShape = []int{Channels, Height, Width}
	return &Model{meta: meta, arch: arch, weights: ws, layers: layers, free: map[int][]*Net{}}, nil
}

// Metadata returns a copy of the model's metadata.
func (m *Model) Metadata() Metadata {
	md := m.meta
	md.Classes = append([]string(nil), m.meta.Classes...)
	md.History = append([]metrics.Epoch(nil), m.meta.History...)
	return md
}

// SetMetadata replaces the descriptive metadata (history, metrics, commit,
// training config); architecture and classes must stay the same.
func (m *Model) SetMetadata(md Metadata) error {
	if md.Architecture != m.meta.Architecture || len(md.Classes) != len(m.meta.Classes) {
		return fmt.Errorf("metadata describes %s with %d classes, model is %s with %d", md.Architecture, len(md.Classes), m.meta.Architecture, len(m.meta.Classes))
	}
	md.Schema, md.Layers, md.Tensors, md.InputShape = m.meta.Schema, m.meta.Layers, m.meta.Tensors, m.meta.InputShape
	m.meta = md
	return nil
}

// Weights returns a copy of the weights in the architecture's order.
func (m *Model) Weights() []Tensor {
	out := make([]Tensor, len(m.weights))
	for i, t := range m.weights {
		out[i] = t.Clone()
	}
	return out
}

// Arch returns the model's architecture.
func (m *Model) Arch() Arch { return m.arch }

// Save writes model.safetensors, model.json and (when the metadata has
// metrics) metrics.json into dir, creating it. WeightsSHA256 is set from
// the bytes written.
func (m *Model) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating model folder: %w", err)
	}
	var buf bytes.Buffer
	meta := map[string]string{"format": "pt", "architecture": m.meta.Architecture}
	if err := WriteSafetensors(&buf, m.weights, meta); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	m.meta.WeightsSHA256 = hex.EncodeToString(sum[:])
	if m.meta.Created.IsZero() {
		m.meta.Created = time.Now().UTC().Truncate(time.Second)
	}
	if err := writeAtomic(filepath.Join(dir, WeightsFile), buf.Bytes()); err != nil {
		return err
	}
	js, err := json.MarshalIndent(m.meta, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding model metadata: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, MetadataFile), append(js, '\n')); err != nil {
		return err
	}
	if m.meta.Metrics != nil {
		if err := metrics.Write(filepath.Join(dir, metrics.FileName), m.meta.Metrics); err != nil {
			return err
		}
	}
	return nil
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Load reads a model folder, or a model.safetensors with model.json beside
// it. It checks the weights against weights_sha256 and the architecture.
func Load(path string) (*Model, error) {
	dir, weightsPath := path, filepath.Join(path, WeightsFile)
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("loading model: %w", err)
	} else if !st.IsDir() {
		dir, weightsPath = filepath.Dir(path), path
	}
	metaPath := filepath.Join(dir, MetadataFile)
	mb, err := os.ReadFile(metaPath)
	if err != nil {
		return nil, fmt.Errorf("loading model: %w (a model folder holds %s and %s)", err, WeightsFile, MetadataFile)
	}
	var meta Metadata
	dec := json.NewDecoder(bytes.NewReader(mb))
	if err := dec.Decode(&meta); err != nil {
		return nil, fmt.Errorf("model metadata %s is not valid JSON: %w", metaPath, err)
	}
	if meta.Schema > SchemaVersion {
		return nil, fmt.Errorf("model metadata %s has schema %d; this build reads up to %d: upgrade model-release", metaPath, meta.Schema, SchemaVersion)
	}
	wb, err := os.ReadFile(weightsPath)
	if err != nil {
		return nil, fmt.Errorf("loading model weights: %w", err)
	}
	if meta.WeightsSHA256 != "" {
		sum := sha256.Sum256(wb)
		if got := hex.EncodeToString(sum[:]); got != meta.WeightsSHA256 {
			return nil, fmt.Errorf("model weights %s have SHA-256 %s but %s says %s: the file is corrupt, truncated or from another model", weightsPath, got, metaPath, meta.WeightsSHA256)
		}
	}
	tensors, _, err := ReadSafetensors(wb)
	if err != nil {
		return nil, fmt.Errorf("model weights %s: %w", weightsPath, err)
	}
	m, err := New(meta, tensors)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	m.meta.WeightsSHA256 = meta.WeightsSHA256
	return m, nil
}

// Normalize converts one uint8 CHW image to normalised float32 in dst.
func Normalize(dst []float32, img []uint8, mean, std [3]float32) {
	plane := Height * Width
	for c := 0; c < Channels; c++ {
		scale := 1 / (255 * std[c])
		shift := mean[c] / std[c]
		src := img[c*plane : (c+1)*plane]
		out := dst[c*plane : (c+1)*plane]
		for i, v := range src {
			out[i] = float32(v)*scale - shift
		}
	}
}

// Predict returns softmax probabilities for n uint8 CHW images (n times
// len(Classes) values, row-major). Each image's result depends only on that
// image: full chunks run on a batch-64 graph, the rest on a graph of the
// remainder's size.
func (m *Model) Predict(images []uint8, n int) ([]float32, error) {
	if n < 0 || len(images) != n*ImageSize {
		return nil, fmt.Errorf("predict: got %d bytes for %d images; each image is %d bytes (3x32x32 CHW uint8)", len(images), n, ImageSize)
	}
	k := len(m.meta.Classes)
	out := make([]float32, n*k)
	for start := 0; start < n; start += PredictBatch {
		b := min(PredictBatch, n-start)
		if err := m.predictChunk(images[start*ImageSize:(start+b)*ImageSize], b, out[start*k:(start+b)*k]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (m *Model) predictChunk(images []uint8, b int, out []float32) error {
	net, err := m.getNet(b)
	if err != nil {
		return err
	}
	defer m.putNet(net)
	in := net.InputData()
	for i := 0; i < b; i++ {
		Normalize(in[i*ImageSize:(i+1)*ImageSize], images[i*ImageSize:(i+1)*ImageSize], m.meta.Mean, m.meta.Std)
	}
	if err := net.Run(); err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	Softmax(out, net.LogitsData(), len(m.meta.Classes))
	return nil
}

// Softmax writes row-wise softmax of logits (rows of k) into dst, computed
// in float64 for stability.
func Softmax(dst, logits []float32, k int) {
	for r := 0; r+k <= len(logits); r += k {
		row := logits[r : r+k]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - mx)
		}
		for j, v := range row {
			dst[r+j] = float32(math.Exp(float64(v)-mx) / sum)
		}
	}
}

func (m *Model) getNet(b int) (*Net, error) {
	m.mu.Lock()
	if l := m.free[b]; len(l) > 0 {
		net := l[len(l)-1]
		m.free[b] = l[:len(l)-1]
		m.mu.Unlock()
		return net, nil
	}
	m.mu.Unlock()
	net, err := NewNet(m.arch, m.weights, b, m.layers, false)
	if err != nil {
		return nil, fmt.Errorf("building evaluation graph: %w", err)
	}
	if err := net.Compile(); err != nil {
		return nil, err
	}
	return net, nil
}

// maxIdleNets bounds the pool per batch size; extra nets are dropped.
const maxIdleNets = 8

func (m *Model) putNet(net *Net) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.free[net.Batch]) < maxIdleNets {
		m.free[net.Batch] = append(m.free[net.Batch], net)
		return
	}
	net.Close()
}
