// Package evaluate measures a model on a labelled split: accuracy, top-3
// accuracy, per-class precision and recall, the confusion matrix and the
// mean cross-entropy. It predicts through the model's own Predict, the same
// path the server uses, so served and evaluated predictions agree exactly.
package evaluate

import (
	"context"
	"fmt"
	"math"

	"github.com/model-release/model-release/internal/metrics"
)

// Predictor is what evaluation needs from a model (*model.Model).
type Predictor interface {
	Predict(images []uint8, n int) ([]float32, error)
}

// imageBytes is one 3x32x32 CHW uint8 record.
const imageBytes = 3 * 32 * 32

// chunk is how many images go to Predict at once: a multiple of the
// model's prediction batch, so results equal one call over everything, and
// small enough to notice a cancelled context promptly.
const chunk = 512

// Evaluate predicts every image and scores the predictions against labels.
func Evaluate(ctx context.Context, p Predictor, images, labels []uint8, classes []string) (*metrics.Metrics, error) {
	n := len(labels)
	if len(images) != n*imageBytes {
		return nil, fmt.Errorf("evaluate: %d image bytes for %d labels; each image is %d bytes", len(images), n, imageBytes)
	}
	if n == 0 {
		return nil, fmt.Errorf("evaluate: the split has no images")
	}
	k := len(classes)
	probs := make([]float32, 0, n*k)
	for start := 0; start < n; start += chunk {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		b := min(chunk, n-start)
		out, err := p.Predict(images[start*imageBytes:(start+b)*imageBytes], b)
		if err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		if len(out) != b*k {
			return nil, fmt.Errorf("evaluate: model returned %d probabilities for %d images of %d classes", len(out), b, k)
		}
		probs = append(probs, out...)
	}
	return FromProbabilities(probs, labels, classes)
}

// FromProbabilities scores n rows of len(classes) probabilities against
// labels. Ties in top-1 go to the lower class index.
func FromProbabilities(probs []float32, labels []uint8, classes []string) (*metrics.Metrics, error) {
	n, k := len(labels), len(classes)
	if k == 0 {
		return nil, fmt.Errorf("evaluate: no class names")
	}
	if len(probs) != n*k {
		return nil, fmt.Errorf("evaluate: %d probabilities for %d labels of %d classes", len(probs), n, k)
	}
	if n == 0 {
		return nil, fmt.Errorf("evaluate: the split has no images")
	}
	m := &metrics.Metrics{
		Schema:    metrics.SchemaVersion,
		Samples:   n,
		Classes:   append([]string(nil), classes...),
		Confusion: make([][]int, k),
	}
	for i := range m.Confusion {
		m.Confusion[i] = make([]int, k)
	}
	var correct, top3 int
	var loss float64
	for i := 0; i < n; i++ {
		y := int(labels[i])
		if y >= k {
			return nil, fmt.Errorf("evaluate: label %d of image %d is not below the %d classes", y, i, k)
		}
		row := probs[i*k : (i+1)*k]
		pred := 0
		for j, p := range row {
			if p > row[pred] {
				pred = j
			}
		}
		m.Confusion[y][pred]++
		if pred == y {
			correct++
		}
		// Top-3: the true class is among the three largest, counting only
		// strictly larger probabilities (ties in the label's favour).
		larger := 0
		for _, p := range row {
			if p > row[y] {
				larger++
			}
		}
		if larger < 3 {
			top3++
		}
		loss -= math.Log(math.Max(float64(row[y]), 1e-30))
	}
	m.Accuracy = float64(correct) / float64(n)
	m.Top3Accuracy = float64(top3) / float64(n)
	m.MeanLoss = loss / float64(n)
	m.PerClass = make([]metrics.ClassMetrics, k)
	for c := 0; c < k; c++ {
		var support, predicted int
		for j := 0; j < k; j++ {
			support += m.Confusion[c][j]
			predicted += m.Confusion[j][c]
		}
		cm := metrics.ClassMetrics{Class: classes[c], Support: support}
		if support > 0 {
			cm.Recall = float64(m.Confusion[c][c]) / float64(support)
		}
		if predicted > 0 {
			cm.Precision = float64(m.Confusion[c][c]) / float64(predicted)
		}
		m.PerClass[c] = cm
	}
	return m, nil
}
