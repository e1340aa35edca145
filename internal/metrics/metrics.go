// Package metrics holds the evaluation results that flow from the evaluator
// to the gate, the reports, the release assets and the image labels. It is
// plain data with JSON I/O, so every consumer agrees on one metrics.json.
package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
)

// FileName is the conventional name of the metrics document.
const FileName = "metrics.json"

// SchemaVersion is bumped when the JSON layout changes incompatibly.
const SchemaVersion = 1

// Metrics are the results of evaluating one model on one labelled split.
type Metrics struct {
	Schema        int            `json:"schema"`
	Architecture  string         `json:"architecture,omitempty"`
	Split         string         `json:"split,omitempty"` // which split was evaluated, e.g. "test" or "validation"
	DatasetDigest string         `json:"dataset_digest,omitempty"`
	Samples       int            `json:"samples"`
	Accuracy      float64        `json:"accuracy"`      // top-1, 0..1
	Top3Accuracy  float64        `json:"top3_accuracy"` // 0..1
	MeanLoss      float64        `json:"mean_loss"`     // mean softmax cross-entropy
	Classes       []string       `json:"classes"`
	PerClass      []ClassMetrics `json:"per_class"`
	// Confusion[i][j] counts samples of true class i predicted as class j.
	Confusion [][]int `json:"confusion"`
}

// ClassMetrics are the per-class results. Recall is the class accuracy.
type ClassMetrics struct {
	Class     string  `json:"class"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	Support   int     `json:"support"` // true samples of this class
}

// Epoch is one line of training history.
type Epoch struct {
	Epoch         int     `json:"epoch"` // 1-based
	LearningRate  float64 `json:"learning_rate"`
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	ValLoss       float64 `json:"val_loss"`
	ValAccuracy   float64 `json:"val_accuracy"`
	ImagesPerSec  float64 `json:"images_per_sec"`
	Seconds       float64 `json:"seconds"`
}

// ClassAccuracy returns the recall of the named class and whether it exists.
func (m *Metrics) ClassAccuracy(class string) (float64, bool) {
	for _, c := range m.PerClass {
		if c.Class == class {
			return c.Recall, true
		}
	}
	return 0, false
}

// Validate reports every field that makes the metrics unusable by the gate
// or the reports: missing samples, values outside 0..1, NaN.
func (m *Metrics) Validate() error {
	var errs []error
	if m.Samples <= 0 {
		errs = append(errs, fmt.Errorf("samples is %d: the evaluation saw no images", m.Samples))
	}
	check := func(name string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1 {
			errs = append(errs, fmt.Errorf("%s is %v, want a number between 0 and 1", name, v))
		}
	}
	check("accuracy", m.Accuracy)
	check("top3_accuracy", m.Top3Accuracy)
	if math.IsNaN(m.MeanLoss) || math.IsInf(m.MeanLoss, 0) {
		errs = append(errs, fmt.Errorf("mean_loss is %v", m.MeanLoss))
	}
	for _, c := range m.PerClass {
		check("per_class["+c.Class+"].precision", c.Precision)
		check("per_class["+c.Class+"].recall", c.Recall)
	}
	return errors.Join(errs...)
}

// Read loads and validates a metrics document.
func Read(path string) (*Metrics, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading metrics: %w", err)
	}
	return Parse(b, path)
}

// Parse decodes and validates a metrics document; name is used in errors.
func Parse(b []byte, name string) (*Metrics, error) {
	var m Metrics
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("metrics %s is not valid JSON: %w", name, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("metrics %s: %w", name, err)
	}
	return &m, nil
}

// Write stores m as indented JSON, atomically (temp file + rename).
func Write(path string, m *Metrics) error {
	if m.Schema == 0 {
		m.Schema = SchemaVersion
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding metrics: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing metrics: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing metrics: %w", err)
	}
	return nil
}
