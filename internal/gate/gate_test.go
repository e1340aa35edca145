package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/exitcode"
	"github.com/model-release/model-release/internal/metrics"
)

// mk builds valid metrics with the given accuracy and top-3 and class recalls.
func mk(acc, top3 float64, recalls ...float64) *metrics.Metrics {
	m := &metrics.Metrics{Schema: 1, Samples: 1000, Accuracy: acc, Top3Accuracy: top3, MeanLoss: 0.9}
	for i, r := range recalls {
		name := fmt.Sprintf("class%d", i)
		m.Classes = append(m.Classes, name)
		m.PerClass = append(m.PerClass, metrics.ClassMetrics{Class: name, Precision: r, Recall: r, Support: 100})
	}
	return m
}

// Variables, not constants: Go folds constant 0.1+0.2 exactly to 0.3, while
// float64 arithmetic gives 0.30000000000000004.
var pointOne, pointTwo = 0.1, 0.2

func ruleByName(t *testing.T, d Decision, name string) Rule {
	t.Helper()
	for _, r := range d.Rules {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("decision has no rule %q: %+v", name, d.Rules)
	return Rule{}
}

func TestCheck(t *testing.T) {
	base := FoundBaseline("v1.0.0", mk(0.80, 0.95, 0.8, 0.8))
	tests := []struct {
		name      string
		policy    Policy
		m         *metrics.Metrics
		baseline  Baseline
		passed    bool
		statuses  map[string]Status // expected status per rule
		measured  map[string]float64
		wantWarns int
	}{
		{
			name:   "exactly at the floor passes",
			policy: Policy{MinAccuracy: 0.5, MaxRegression: 1},
			m:      mk(0.5, 0.7), baseline: FirstRelease(),
			passed:   true,
			statuses: map[string]Status{RuleMinAccuracy: Pass, RuleMaxRegression: Pass},
			measured: map[string]float64{RuleMinAccuracy: 0.5},
		},
		{
			name:   "one sample below the floor fails",
			policy: Policy{MinAccuracy: 0.5, MaxRegression: 1},
			m:      mk(0.499, 0.7), baseline: FirstRelease(),
			statuses: map[string]Status{RuleMinAccuracy: Fail, RuleMaxRegression: Pass},
		},
		{
			name:   "floor computed with float noise passes (0.1+0.2 vs 0.3)",
			policy: Policy{MinAccuracy: pointOne + pointTwo, MaxRegression: 1},
			m:      mk(0.3, 0.7), baseline: FirstRelease(),
			passed:   true,
			statuses: map[string]Status{RuleMinAccuracy: Pass},
		},
		{
			name:   "drop of exactly max-regression passes despite float noise",
			policy: Policy{MinAccuracy: 0.5, MaxRegression: 1},
			// 0.79-0.80 = -0.010000000000000009 in float64.
			m: mk(0.79, 0.95), baseline: base,
			passed:   true,
			statuses: map[string]Status{RuleMaxRegression: Pass},
		},
		{
			name:   "drop just over max-regression fails",
			policy: Policy{MinAccuracy: 0.5, MaxRegression: 1},
			m:      mk(0.7899, 0.95), baseline: base,
			statuses: map[string]Status{RuleMinAccuracy: Pass, RuleMaxRegression: Fail},
		},
		{
			name:   "improvement is measured in points",
			policy: Policy{MinAccuracy: 0.5, MaxRegression: 0},
			m:      mk(0.8125, 0.95), baseline: base,
			passed:   true,
			statuses: map[string]Status{RuleMaxRegression: Pass},
			measured: map[string]float64{RuleMaxRegression: 1.25},
		},
		{
			name:   "zero allowed regression fails on any drop",
			policy: Policy{MinAccuracy: 0.5, MaxRegression: 0},
			m:      mk(0.799, 0.95), baseline: base,
			statuses: map[string]Status{RuleMaxRegression: Fail},
		},
		{
			name:   "top3 metric gates on top-3 accuracy",
			policy: Policy{MinAccuracy: 0.9, MaxRegression: 1, Metric: MetricTop3},
			m:      mk(0.6, 0.94), baseline: base,
			passed:   true,
			statuses: map[string]Status{RuleMinAccuracy: Pass, RuleMaxRegression: Pass},
			measured: map[string]float64{RuleMinAccuracy: 0.94},
		},
		{
			name:   "per-class floor at the boundary passes",
			policy: Policy{MinAccuracy: 0.5, MaxRegression: 1, MinClassAccuracy: 0.6},
			m:      mk(0.7, 0.9, 0.6, 0.8), baseline: FirstRelease(),
			passed:   true,
			statuses: map[string]Status{RuleMinClassAccuracy: Pass},
			measured: map[string]float64{RuleMinClassAccuracy: 0.6},
		},
		{
			name:   "per-class floor fails on the weakest class",
			policy: Policy{MinAccuracy: 0.5, MaxRegression: 1, MinClassAccuracy: 0.6},
			m:      mk(0.7, 0.9, 0.9, 0.41, 0.59), baseline: FirstRelease(),
			statuses: map[string]Status{RuleMinAccuracy: Pass, RuleMinClassAccuracy: Fail},
			measured: map[string]float64{RuleMinClassAccuracy: 0.41},
		},
		{
			name:   "unreadable baseline is skipped with a warning, not a silent pass",
			policy: Policy{MinAccuracy: 0.5, MaxRegression: 1},
			m:      mk(0.7, 0.9), baseline: Unavailable("v9.9.9", "download failed"),
			passed:    true,
			statuses:  map[string]Status{RuleMaxRegression: Skipped},
			wantWarns: 1,
		},
		{
			name:   "zero-value baseline is skipped with a warning",
			policy: Policy{MinAccuracy: 0.5, MaxRegression: 1},
			m:      mk(0.7, 0.9), baseline: Baseline{},
			passed:    true,
			statuses:  map[string]Status{RuleMaxRegression: Skipped},
			wantWarns: 1,
		},
		{
			name:   "baseline turned off is skipped without a warning",
			policy: Policy{MinAccuracy: 0.5, MaxRegression: 1},
			m:      mk(0.7, 0.9), baseline: NoBaseline(),
			passed:   true,
			statuses: map[string]Status{RuleMaxRegression: Skipped},
		},
		{
			name:   "baseline without top-3 is skipped for the top3 metric",
			policy: Policy{MinAccuracy: 0.5, MaxRegression: 1, Metric: MetricTop3},
			m:      mk(0.7, 0.9), baseline: FoundBaseline("old", mk(0.8, 0)),
			passed:    true,
			statuses:  map[string]Status{RuleMaxRegression: Skipped},
			wantWarns: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := tt.policy.Check(tt.m, tt.baseline)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if d.Passed != tt.passed {
				t.Errorf("Passed = %v, want %v; rules %+v", d.Passed, tt.passed, d.Rules)
			}
			for name, want := range tt.statuses {
				if got := ruleByName(t, d, name).Status; got != want {
					t.Errorf("rule %s: status %s, want %s", name, got, want)
				}
			}
			for name, want := range tt.measured {
				if got := ruleByName(t, d, name).Measured; math.Abs(got-want) > 1e-9 {
					t.Errorf("rule %s: measured %v, want %v", name, got, want)
				}
			}
			if len(d.Warnings) != tt.wantWarns {
				t.Errorf("warnings %q, want %d", d.Warnings, tt.wantWarns)
			}
			for _, r := range d.Rules {
				if r.Status == Skipped && r.Note == "" {
					t.Errorf("rule %s skipped without saying why", r.Name)
				}
			}
			err = d.Err()
			if tt.passed && err != nil {
				t.Errorf("Err() = %v for a passed gate", err)
			}
			if !tt.passed {
				var fe *FailedError
				if !errors.As(err, &fe) || exitcode.For(err) != exitcode.GateFailed {
					t.Errorf("Err() = %v (exit %d), want a *FailedError with exit code %d", err, exitcode.For(err), exitcode.GateFailed)
				}
				for _, r := range d.Failed() {
					if !strings.Contains(err.Error(), r.Name) {
						t.Errorf("error %q does not name failed rule %s", err, r.Name)
					}
				}
			}
		})
	}
}

func TestCheckNotesExplainTheDecision(t *testing.T) {
	p := Policy{MinAccuracy: 0.5, MaxRegression: 1, MinClassAccuracy: 0.6}
	d, err := p.Check(mk(0.7, 0.9, 0.9, 0.41, 0.59), FirstRelease())
	if err != nil {
		t.Fatal(err)
	}
	cls := ruleByName(t, d, RuleMinClassAccuracy)
	for _, want := range []string{"2 of 3", "class1 41.00%", "class2 59.00%"} {
		if !strings.Contains(cls.Note, want) {
			t.Errorf("per-class note %q lacks %q", cls.Note, want)
		}
	}
	if reg := ruleByName(t, d, RuleMaxRegression); !strings.Contains(reg.Note, "first release") || reg.MeasuredText() != "—" {
		t.Errorf("first-release rule reads %q, %q: want no value and a note that says so", reg.MeasuredText(), reg.Note)
	}
	d, err = p.Check(mk(0.7, 0.9, 0.7), FoundBaseline("v1.0.0", mk(0.8, 0.9, 0.8)))
	if err != nil {
		t.Fatal(err)
	}
	reg := ruleByName(t, d, RuleMaxRegression)
	if reg.MeasuredText() != "-10.00 pts" || reg.LimitText() != "≥ -1.00 pts" || !strings.Contains(reg.Note, "v1.0.0: 80.00% → 70.00%") {
		t.Errorf("regression rule reads %q / %q / %q", reg.MeasuredText(), reg.LimitText(), reg.Note)
	}
}

func TestRuleTextShowsMoreDigitsWhenRoundingHidesAFailure(t *testing.T) {
	r := Rule{Unit: UnitFraction, Measured: 0.49996, Limit: 0.5, Status: Fail}
	if r.MeasuredText() != "49.9960%" || r.LimitText() != "≥ 50.0000%" {
		t.Errorf("got %q %q", r.MeasuredText(), r.LimitText())
	}
	r.Status = Pass
	r.Measured = 0.8
	if r.MeasuredText() != "80.00%" {
		t.Errorf("got %q", r.MeasuredText())
	}
}

func TestCheckRejectsBadMetrics(t *testing.T) {
	p := Policy{MinAccuracy: 0.5, MaxRegression: 1}
	nan := mk(math.NaN(), 0.9)
	noSamples := mk(0.7, 0.9)
	noSamples.Samples = 0
	noTop3 := mk(0.7, 0)
	tests := []struct {
		name   string
		policy Policy
		m      *metrics.Metrics
		want   string
	}{
		{"nil metrics", p, nil, "no metrics"},
		{"NaN accuracy", p, nan, "accuracy is NaN"},
		{"no samples", p, noSamples, "samples is 0"},
		{"top3 missing", Policy{MinAccuracy: 0.5, Metric: MetricTop3}, noTop3, "lacks top3_accuracy"},
		{"per-class missing", Policy{MinAccuracy: 0.5, MinClassAccuracy: 0.3}, mk(0.7, 0.9), "per_class is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.policy.Check(tt.m, FirstRelease())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if exitcode.For(err) == exitcode.GateFailed {
				t.Errorf("bad metrics must be an error, not a failed gate")
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		want string // "" = valid
	}{
		{"defaults", PolicyFromConfig(ptr(config.Default())), ""},
		{"zero", Policy{}, ""},
		{"edges", Policy{MinAccuracy: 1, MaxRegression: 100, MinClassAccuracy: 1, Metric: MetricTop3}, ""},
		{"negative regression", Policy{MaxRegression: -0.5}, `"max-regression": -0.5`},
		{"regression over 100 points", Policy{MaxRegression: 101}, `"max-regression"`},
		{"NaN regression", Policy{MaxRegression: math.NaN()}, `"max-regression"`},
		{"floor above 1", Policy{MinAccuracy: 50}, `"min-accuracy": 50 is not a fraction`},
		{"negative floor", Policy{MinAccuracy: -0.1}, `"min-accuracy"`},
		{"class floor above 1", Policy{MinClassAccuracy: 1.5}, `"min-class-accuracy"`},
		{"unknown metric", Policy{Metric: "f1"}, `"gate-metric": "f1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want %q", err, tt.want)
			}
			if _, cerr := tt.p.Check(mk(0.7, 0.9), FirstRelease()); cerr == nil {
				t.Errorf("Check accepted an invalid policy")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestWriteTable(t *testing.T) {
	p := Policy{MinAccuracy: 0.5, MaxRegression: 1, MinClassAccuracy: 0.6}
	d, err := p.Check(mk(0.7, 0.9, 0.9, 0.5), Unavailable("latest release", "boom"))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if err := d.WriteTable(&sb); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{"Gate FAILED on accuracy 70.00% (baseline latest release unavailable)", "min-class-accuracy", "fail", "skipped", "warning: baseline comparison skipped: boom", "accuracy points"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || back["passed"] != false || len(back["rules"].([]any)) != 3 {
		t.Errorf("JSON decision %s", b)
	}
}

type fakeFetcher struct {
	assets map[string][]byte // tag -> metrics.json ("" = latest)
	err    error
	calls  []string
}

func (f *fakeFetcher) FetchReleaseAsset(_ context.Context, tag, name string) ([]byte, error) {
	f.calls = append(f.calls, tag+"/"+name)
	if f.err != nil {
		return nil, f.err
	}
	b, ok := f.assets[tag]
	if !ok || name != metrics.FileName {
		return nil, fmt.Errorf("release %q asset %q: %w", tag, name, fs.ErrNotExist)
	}
	return b, nil
}

type notFoundErr struct{}

func (notFoundErr) Error() string  { return "404 Not Found" }
func (notFoundErr) NotFound() bool { return true }

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestResolveBaseline(t *testing.T) {
	ctx := context.Background()
	good, _ := json.Marshal(mk(0.81, 0.95))

	dir := t.TempDir()
	modelDir := filepath.Join(dir, "model")
	if err := os.Mkdir(modelDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, filepath.Join(modelDir, "metrics.json"), mk(0.77, 0.9))
	if err := os.WriteFile(filepath.Join(modelDir, "model.safetensors"), []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	embedded := filepath.Join(dir, "embedded")
	if err := os.Mkdir(embedded, 0o755); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, filepath.Join(embedded, "model.json"), map[string]any{"architecture": "convnet", "metrics": mk(0.66, 0.9)})
	badFile := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badFile, []byte(`{"accuracy": 7, "samples": 10}`), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		spec    string
		fetcher ReleaseAssetFetcher
		state   BaselineState
		acc     float64
		reason  string
	}{
		{"latest release", "latest", &fakeFetcher{assets: map[string][]byte{"": good}}, BaselineFound, 0.81, ""},
		{"empty spec means latest", "", &fakeFetcher{assets: map[string][]byte{"": good}}, BaselineFound, 0.81, ""},
		{"tag", "v1.2.0", &fakeFetcher{assets: map[string][]byte{"v1.2.0": good}}, BaselineFound, 0.81, ""},
		{"no release yet is the first release", "latest", &fakeFetcher{}, BaselineFirstRelease, 0, "first release"},
		{"NotFound() error is the first release", "latest", &fakeFetcher{err: notFoundErr{}}, BaselineFirstRelease, 0, "first release"},
		{"missing tag is unavailable", "v9.9.9", &fakeFetcher{}, BaselineUnavailable, 0, "does not exist"},
		{"network error is unavailable", "latest", &fakeFetcher{err: errors.New("connection reset")}, BaselineUnavailable, 0, "connection reset"},
		{"garbage asset is unavailable", "latest", &fakeFetcher{assets: map[string][]byte{"": []byte("<html>")}}, BaselineUnavailable, 0, "not valid JSON"},
		{"no client is unavailable", "latest", nil, BaselineUnavailable, 0, "no GitHub client"},
		{"none", "none", nil, BaselineOff, 0, ""},
		{"model folder", modelDir, nil, BaselineFound, 0.77, ""},
		{"metrics file", filepath.Join(modelDir, "metrics.json"), nil, BaselineFound, 0.77, ""},
		{"safetensors beside metrics", filepath.Join(modelDir, "model.safetensors"), nil, BaselineFound, 0.77, ""},
		{"model.json with embedded metrics", filepath.Join(embedded, "model.json"), nil, BaselineFound, 0.66, ""},
		{"folder with only model.json", embedded, nil, BaselineFound, 0.66, ""},
		{"missing file", filepath.Join(dir, "nope.json"), nil, BaselineUnavailable, 0, "no such file"},
		{"invalid metrics file", badFile, nil, BaselineUnavailable, 0, "accuracy is 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := ResolveBaseline(ctx, tt.spec, tt.fetcher)
			if b.State != tt.state {
				t.Fatalf("state %s, want %s (reason %q)", b.State, tt.state, b.Reason)
			}
			if tt.state == BaselineFound && b.Metrics.Accuracy != tt.acc {
				t.Errorf("accuracy %v, want %v", b.Metrics.Accuracy, tt.acc)
			}
			if !strings.Contains(b.Reason, tt.reason) {
				t.Errorf("reason %q lacks %q", b.Reason, tt.reason)
			}
		})
	}
}

func TestNeedsRelease(t *testing.T) {
	dir := t.TempDir()
	for spec, want := range map[string]bool{
		"": true, "latest": true, "v1.2.0": true, "model/v1.2.0": true,
		"none": false, "metrics.json": false, "./out": false, dir: false, "/abs/model.safetensors": false,
	} {
		if got := NeedsRelease(spec); got != want {
			t.Errorf("NeedsRelease(%q) = %v, want %v", spec, got, want)
		}
	}
}
