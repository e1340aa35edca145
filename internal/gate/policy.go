// Package gate decides whether a trained model is good enough to release.
//
// A Policy holds the rules (an absolute floor, an allowed regression against
// the last release, an optional per-class floor); Check applies them to the
// evaluation metrics and a Baseline and returns a Decision that lists every
// rule with its measured value, its limit and its result, so a reader sees
// why. Check is pure: resolving the baseline (a file or a release asset) is
// done beforehand by ResolveBaseline.
//
// Units: floors are fractions 0..1 (0.5 = 50% accuracy); max-regression is in
// accuracy POINTS (1.0 = one percentage point = 0.01 of accuracy).
package gate

import (
	"errors"
	"fmt"
	"math"

	"github.com/model-release/model-release/internal/config"
)

// Metric names the headline number the gate compares.
type Metric string

// The metrics a gate can compare.
const (
	MetricAccuracy Metric = "accuracy" // top-1 accuracy
	MetricTop3     Metric = "top3"     // top-3 accuracy
)

// Label is the human name of the metric, as shown in tables.
func (m Metric) Label() string {
	if m == MetricTop3 {
		return "top-3 accuracy"
	}
	return "accuracy"
}

// Policy is the set of rules a model must pass.
type Policy struct {
	// MinAccuracy is the absolute floor of Metric, a fraction 0..1.
	MinAccuracy float64 `json:"min_accuracy"`
	// MaxRegression is the allowed drop of Metric against the baseline, in
	// accuracy points (1.0 = 0.01 of accuracy).
	MaxRegression float64 `json:"max_regression"`
	// MinClassAccuracy is the floor of every class's accuracy (recall), a
	// fraction 0..1; 0 turns the rule off.
	MinClassAccuracy float64 `json:"min_class_accuracy"`
	// Metric is the number compared by MinAccuracy and MaxRegression; empty
	// means accuracy.
	Metric Metric `json:"metric"`
}

// PolicyFromConfig takes the gate options of a Config.
func PolicyFromConfig(c *config.Config) Policy {
	return Policy{
		MinAccuracy:      c.MinAccuracy,
		MaxRegression:    c.MaxRegression,
		MinClassAccuracy: c.MinClassAccuracy,
		Metric:           Metric(c.GateMetric),
	}
}

// metric returns the effective metric (empty means accuracy).
func (p Policy) metric() Metric {
	if p.Metric == "" {
		return MetricAccuracy
	}
	return p.Metric
}

// Validate reports every option that makes the policy meaningless, each
// naming its option as the CLI flag does.
func (p Policy) Validate() error {
	var errs []error
	fraction := func(name string, v float64) {
		if math.IsNaN(v) || v < 0 || v > 1 {
			errs = append(errs, fmt.Errorf("%q: %v is not a fraction between 0 and 1 (0.5 = 50%%)", name, v))
		}
	}
	fraction("min-accuracy", p.MinAccuracy)
	fraction("min-class-accuracy", p.MinClassAccuracy)
	if math.IsNaN(p.MaxRegression) || p.MaxRegression < 0 || p.MaxRegression > 100 {
		errs = append(errs, fmt.Errorf("%q: %v is not a number of accuracy points from 0 to 100 (1.0 = one percentage point)", "max-regression", p.MaxRegression))
	}
	switch p.Metric {
	case "", MetricAccuracy, MetricTop3:
	default:
		errs = append(errs, fmt.Errorf("%q: %q is not one of accuracy, top3", "gate-metric", string(p.Metric)))
	}
	return errors.Join(errs...)
}
