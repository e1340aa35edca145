package gate

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/model-release/model-release/internal/exitcode"
	"github.com/model-release/model-release/internal/metrics"
)

// Status is the outcome of one rule.
type Status string

// Rule outcomes. Skipped is never silent: the rule's Note says why.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Skipped Status = "skipped"
)

// Unit says how a rule's Measured and Limit read.
type Unit string

// Units of rule values.
const (
	UnitFraction Unit = "fraction" // 0..1, shown as a percentage
	UnitPoints   Unit = "points"   // accuracy points, 1.0 = 0.01 of accuracy
)

// Rule names of the decision, equal to the option that sets each limit.
const (
	RuleMinAccuracy      = "min-accuracy"
	RuleMaxRegression    = "max-regression"
	RuleMinClassAccuracy = "min-class-accuracy"
)

// epsilon absorbs floating-point noise at exact boundaries: 0.79 against a
// 0.80 baseline is a drop of 1.0000000000000009 points, which must pass a 1.0
// point allowance. It is far below the 1/samples resolution of accuracy.
const epsilon = 1e-9

// Rule is one check of the gate with what was measured and what was allowed.
// Every rule reads "Measured >= Limit".
type Rule struct {
	Name     string  `json:"name"`  // the option that sets the limit
	Check    string  `json:"check"` // what is compared, in words
	Unit     Unit    `json:"unit"`
	Measured float64 `json:"measured"`
	Limit    float64 `json:"limit"`
	Status   Status  `json:"status"`
	Note     string  `json:"note,omitempty"` // why, in words: baseline used, failing classes, skip reason
	// NotMeasured is set when the rule passed without a value to measure
	// (the first release has no baseline to compare against).
	NotMeasured bool `json:"not_measured,omitempty"`
}

// MeasuredText formats Measured in the rule's unit ("87.20%", "+1.20 pts",
// "—" for a skipped rule).
func (r Rule) MeasuredText() string {
	if r.Status == Skipped || r.NotMeasured {
		return "—"
	}
	return r.format(r.Measured, r.Status == Fail)
}

// LimitText formats the limit as a condition ("≥ 50.00%", "≥ -1.00 pts").
func (r Rule) LimitText() string {
	return "≥ " + r.format(r.Limit, r.Status == Fail)
}

// format shows two decimals, or four when a failing value would otherwise
// print the same as its limit (49.996% against a 50% floor).
func (r Rule) format(v float64, failed bool) string {
	f := func(prec int, x float64) string {
		if r.Unit == UnitPoints {
			return fmt.Sprintf("%+.*f pts", prec, x)
		}
		return fmt.Sprintf("%.*f%%", prec, 100*x)
	}
	if failed && f(2, r.Measured) == f(2, r.Limit) {
		return f(4, v)
	}
	return f(2, v)
}

// Decision is the verdict of the gate with every rule behind it.
type Decision struct {
	Passed   bool    `json:"passed"`
	Metric   Metric  `json:"metric"`
	Value    float64 `json:"value"` // the measured Metric, 0..1
	Policy   Policy  `json:"policy"`
	Baseline struct {
		State BaselineState `json:"state"`
		Name  string        `json:"name,omitempty"`  // "v1.2.0", a file path
		Value *float64      `json:"value,omitempty"` // the baseline's Metric when compared
	} `json:"baseline"`
	Rules    []Rule   `json:"rules"`
	Warnings []string `json:"warnings,omitempty"`
}

// Verdict is "passed" or "failed".
func (d Decision) Verdict() string {
	if d.Passed {
		return "passed"
	}
	return "failed"
}

// Failed lists the rules that failed.
func (d Decision) Failed() []Rule {
	var out []Rule
	for _, r := range d.Rules {
		if r.Status == Fail {
			out = append(out, r)
		}
	}
	return out
}

// Err is nil when the gate passed and a *FailedError otherwise.
func (d Decision) Err() error {
	if d.Passed {
		return nil
	}
	return &FailedError{Decision: d}
}

// FailedError is a gate that did not pass. Its exit code tells a workflow
// "the model is not good enough" apart from "the tool broke".
type FailedError struct{ Decision Decision }

func (e *FailedError) Error() string {
	var parts []string
	for _, r := range e.Decision.Failed() {
		parts = append(parts, fmt.Sprintf("%s: %s is %s, limit %s", r.Name, r.Check, r.MeasuredText(), r.LimitText()))
	}
	return "gate failed: " + strings.Join(parts, "; ")
}

// ExitCode maps a failed gate to its own exit code.
func (e *FailedError) ExitCode() int { return exitcode.GateFailed }

// Check applies the policy to the metrics of the candidate model and to the
// baseline. A policy that does not validate, or metrics that are missing or
// hold NaN, are errors: the gate never decides on numbers it cannot trust.
// A baseline that could not be read is not an error: the regression rule is
// Skipped with a warning in the decision.
func (p Policy) Check(m *metrics.Metrics, b Baseline) (Decision, error) {
	if err := p.Validate(); err != nil {
		return Decision{}, fmt.Errorf("invalid gate policy: %w", err)
	}
	if m == nil {
		return Decision{}, errors.New("no metrics to gate: evaluate the model first to produce metrics.json")
	}
	if err := m.Validate(); err != nil {
		return Decision{}, fmt.Errorf("metrics cannot be gated: %w", err)
	}
	metric := p.metric()
	value, err := metricValue(m, metric)
	if err != nil {
		return Decision{}, fmt.Errorf("metrics cannot be gated: %w", err)
	}

	d := Decision{Metric: metric, Value: value, Policy: p}
	d.Baseline.State, d.Baseline.Name = b.State, b.Name
	switch b.State {
	case BaselineFound, BaselineFirstRelease, BaselineOff:
	default:
		d.Baseline.State = BaselineUnavailable
	}

	d.Rules = append(d.Rules, Rule{
		Name: RuleMinAccuracy, Check: metric.Label() + " of this model", Unit: UnitFraction,
		Measured: value, Limit: p.MinAccuracy, Status: atLeast(value, p.MinAccuracy),
	})
	d.Rules = append(d.Rules, p.regressionRule(&d, value, b))
	if p.MinClassAccuracy > 0 {
		r, err := p.classRule(m)
		if err != nil {
			return Decision{}, fmt.Errorf("metrics cannot be gated: %w", err)
		}
		d.Rules = append(d.Rules, r)
	}

	d.Passed = len(d.Failed()) == 0
	return d, nil
}

// regressionRule compares against the baseline, or says why it could not.
func (p Policy) regressionRule(d *Decision, value float64, b Baseline) Rule {
	r := Rule{
		Name:  RuleMaxRegression,
		Check: "change of " + d.Metric.Label() + " against the baseline, in points",
		Unit:  UnitPoints,
		Limit: -p.MaxRegression,
	}
	skip := func(note string, warn bool) Rule {
		r.Status, r.Note = Skipped, note
		if warn {
			d.Warnings = append(d.Warnings, note)
		}
		return r
	}
	switch b.State {
	case BaselineFirstRelease:
		r.Status, r.NotMeasured = Pass, true
		r.Note = "no previous release: this is the first release, nothing to compare against"
		if b.Reason != "" {
			r.Note = b.Reason
		}
		return r
	case BaselineOff:
		return skip("comparison turned off (baseline: none)", false)
	case BaselineFound:
	default:
		reason := b.Reason
		if reason == "" {
			reason = "no baseline was given"
		}
		return skip("baseline comparison skipped: "+reason, true)
	}
	if b.Metrics == nil {
		return skip("baseline comparison skipped: baseline "+b.Name+" holds no metrics", true)
	}
	if err := b.Metrics.Validate(); err != nil {
		return skip(fmt.Sprintf("baseline comparison skipped: baseline %s has unusable metrics: %v", b.Name, err), true)
	}
	base, err := metricValue(b.Metrics, d.Metric)
	if err != nil {
		return skip(fmt.Sprintf("baseline comparison skipped: baseline %s: %v", b.Name, err), true)
	}
	d.Baseline.Value = &base
	r.Measured = 100 * (value - base)
	// Compare in fraction units so epsilon means the same as for the floors.
	r.Status = atLeast(value-base, -p.MaxRegression/100)
	r.Note = fmt.Sprintf("baseline %s: %.2f%% → %.2f%%", b.Name, 100*base, 100*value)
	return r
}

// classRule checks the weakest class and names every class under the floor.
func (p Policy) classRule(m *metrics.Metrics) (Rule, error) {
	if len(m.PerClass) == 0 {
		return Rule{}, errors.New("per_class is empty, but min-class-accuracy needs the accuracy of every class: re-evaluate the model, or set min-class-accuracy to 0")
	}
	classes := append([]metrics.ClassMetrics(nil), m.PerClass...)
	sort.SliceStable(classes, func(i, j int) bool { return classes[i].Recall < classes[j].Recall })
	worst := classes[0]
	r := Rule{
		Name: RuleMinClassAccuracy, Check: "accuracy of the weakest class (" + worst.Class + ")", Unit: UnitFraction,
		Measured: worst.Recall, Limit: p.MinClassAccuracy, Status: atLeast(worst.Recall, p.MinClassAccuracy),
	}
	var below []string
	for _, c := range classes {
		if atLeast(c.Recall, p.MinClassAccuracy) == Fail {
			below = append(below, fmt.Sprintf("%s %.2f%%", c.Class, 100*c.Recall))
		}
	}
	if len(below) > 0 {
		r.Note = fmt.Sprintf("%d of %d classes below the floor: %s", len(below), len(classes), strings.Join(below, ", "))
	} else {
		r.Note = fmt.Sprintf("all %d classes at or above the floor", len(classes))
	}
	return r, nil
}

func atLeast(v, limit float64) Status {
	if v >= limit-epsilon {
		return Pass
	}
	return Fail
}

// metricValue reads the compared number, refusing a top-3 accuracy below the
// top-1 accuracy: that only happens when the field is missing from the file.
func metricValue(m *metrics.Metrics, metric Metric) (float64, error) {
	if metric != MetricTop3 {
		return m.Accuracy, nil
	}
	if m.Top3Accuracy < m.Accuracy || math.IsNaN(m.Top3Accuracy) {
		return 0, fmt.Errorf("top3_accuracy (%v) is below accuracy (%v): the metrics file lacks top3_accuracy; gate on accuracy instead", m.Top3Accuracy, m.Accuracy)
	}
	return m.Top3Accuracy, nil
}

// WriteTable prints the decision for a terminal: the verdict, one row per
// rule, then the warnings.
func (d Decision) WriteTable(w io.Writer) error {
	base := "baseline " + d.Baseline.Name
	switch d.Baseline.State {
	case BaselineFirstRelease:
		base = "first release, no baseline"
	case BaselineOff:
		base = "no baseline"
	case BaselineUnavailable:
		base = "baseline " + d.Baseline.Name + " unavailable"
	}
	if _, err := fmt.Fprintf(w, "Gate %s on %s %.2f%% (%s)\n", strings.ToUpper(d.Verdict()), d.Metric.Label(), 100*d.Value, base); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tCHECK\tMEASURED\tLIMIT\tRESULT\tNOTE")
	for _, r := range d.Rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Check, r.MeasuredText(), r.LimitText(), r.Status, r.Note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, warn := range d.Warnings {
		if _, err := fmt.Fprintln(w, "warning:", warn); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, "Floors are fractions 0..1 shown as percentages; max-regression is in accuracy points (1.0 = one percentage point).")
	return err
}
