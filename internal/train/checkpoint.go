package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/model-release/model-release/internal/metrics"
	"github.com/model-release/model-release/internal/model"
)

// CheckpointFile is the checkpoint inside <work-dir>/checkpoint/: weights,
// optimizer state and (in the header metadata) the loop state, in one
// safetensors file written atomically.
const CheckpointFile = "checkpoint.safetensors"

// state is everything besides tensors that a resumed run needs to continue
// exactly where the interrupted one stopped.
type state struct {
	Version       int        `json:"version"`
	Architecture  string     `json:"architecture"`
	Classes       []string   `json:"classes"`
	Seed          int64      `json:"seed"`
	BatchSize     int        `json:"batch_size"`
	Optimizer     string     `json:"optimizer"`
	DatasetDigest string     `json:"dataset_digest"`
	TrainImages   int        `json:"train_images"`
	Mean          [3]float32 `json:"mean"`
	Std           [3]float32 `json:"std"`

	// Epoch is the 0-based epoch in progress and Step the batches of it
	// already done; Step 0 means Epoch completed epochs.
	Epoch    int    `json:"epoch"`
	Step     int    `json:"step"`
	OptSteps int    `json:"optimizer_steps"`
	RNG      []byte `json:"rng"` // augmentation PCG state
	// Running sums of the epoch in progress.
	LossSum float64 `json:"loss_sum"`
	Correct int     `json:"correct"`
	Seen    int     `json:"seen"`
	Seconds float64 `json:"seconds"`

	History   []metrics.Epoch `json:"history"`
	BestAcc   float64         `json:"best_val_accuracy"`
	BestEpoch int             `json:"best_epoch"` // 1-based; 0 none yet
	Done      bool            `json:"done"`       // stopped early
}

const stateVersion = 1

func saveCheckpoint(dir string, st *state, weights []model.Tensor, opt *optimizer, trainable []model.Tensor, best []model.Tensor) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating checkpoint folder: %w", err)
	}
	js, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding checkpoint state: %w", err)
	}
	ts := append([]model.Tensor(nil), weights...)
	for i, t := range trainable {
		ts = append(ts, model.Tensor{Name: "optimizer.m." + t.Name, Shape: []int{len(opt.m[i])}, Data: opt.m[i]})
		if opt.v != nil {
			ts = append(ts, model.Tensor{Name: "optimizer.v." + t.Name, Shape: []int{len(opt.v[i])}, Data: opt.v[i]})
		}
	}
	for _, t := range best {
		ts = append(ts, model.Tensor{Name: "best." + t.Name, Shape: t.Shape, Data: t.Data})
	}
	var buf bytes.Buffer
	if err := model.WriteSafetensors(&buf, ts, map[string]string{"state": string(js)}); err != nil {
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	path := filepath.Join(dir, CheckpointFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	return nil
}

// checkpoint is a loaded checkpoint file.
type checkpoint struct {
	state   state
	tensors map[string]model.Tensor
}

// errNoCheckpoint means there is nothing to resume from.
var errNoCheckpoint = errors.New("no checkpoint")

func loadCheckpoint(dir string) (*checkpoint, error) {
	path := filepath.Join(dir, CheckpointFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoCheckpoint
	}
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint: %w", err)
	}
	ts, meta, err := model.ReadSafetensors(b)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w (delete it to start over)", path, err)
	}
	ck := &checkpoint{tensors: map[string]model.Tensor{}}
	if err := json.Unmarshal([]byte(meta["state"]), &ck.state); err != nil {
		return nil, fmt.Errorf("checkpoint %s: state is not valid JSON: %w (delete it to start over)", path, err)
	}
	if ck.state.Version != stateVersion {
		return nil, fmt.Errorf("checkpoint %s has version %d, this build writes %d: delete it to start over", path, ck.state.Version, stateVersion)
	}
	for _, t := range ts {
		ck.tensors[t.Name] = t
	}
	return ck, nil
}

// restoreInto copies the named tensors of the checkpoint (with prefix)
// into dst, which must match in size.
func (ck *checkpoint) restoreInto(prefix string, names []string, dst [][]float32) error {
	for i, n := range names {
		t, ok := ck.tensors[prefix+n]
		if !ok {
			return fmt.Errorf("checkpoint lacks tensor %q", prefix+n)
		}
		if len(t.Data) != len(dst[i]) {
			return fmt.Errorf("checkpoint tensor %q has %d values, want %d", prefix+n, len(t.Data), len(dst[i]))
		}
		copy(dst[i], t.Data)
	}
	return nil
}
