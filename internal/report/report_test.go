package report

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/model-release/model-release/internal/gate"
	"github.com/model-release/model-release/internal/metrics"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const goldenDir = "../../testdata/golden"

var cifar = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// fixture builds consistent metrics from per-class accuracies: each class has
// support images, the mistakes go to three other classes in fixed shares, and
// precision, accuracy and the confusion matrix follow from that.
func fixture(classes []string, recalls []float64, support int) *metrics.Metrics {
	n := len(classes)
	conf := make([][]int, n)
	for i := range conf {
		conf[i] = make([]int, n)
		right := int(recalls[i]*float64(support) + 0.5)
		wrong := support - right
		conf[i][i] = right
		a, b := wrong*6/10, wrong*3/10
		conf[i][(i+1)%n] += a
		conf[i][(i+3)%n] += b
		conf[i][(i+5)%n] += wrong - a - b
	}
	m := &metrics.Metrics{Schema: 1, Architecture: "convnet", Split: "test", DatasetDigest: "sha256:0f3c9a", Classes: classes, Confusion: conf}
	correct := 0
	for j := 0; j < n; j++ {
		col := 0
		for i := 0; i < n; i++ {
			col += conf[i][j]
		}
		correct += conf[j][j]
		prec := 0.0
		if col > 0 {
			prec = float64(conf[j][j]) / float64(col)
		}
		m.PerClass = append(m.PerClass, metrics.ClassMetrics{Class: classes[j], Precision: prec, Recall: float64(conf[j][j]) / float64(support), Support: support})
	}
	m.Samples = n * support
	m.Accuracy = float64(correct) / float64(m.Samples)
	m.Top3Accuracy = m.Accuracy + (1-m.Accuracy)*0.7
	m.MeanLoss = 2.3 * (1 - m.Accuracy)
	return m
}

func history(epochs int, final float64) []metrics.Epoch {
	h := make([]metrics.Epoch, epochs)
	for i := range h {
		f := float64(i+1) / float64(epochs)
		h[i] = metrics.Epoch{
			Epoch: i + 1, LearningRate: 0.05 * (1 - f),
			TrainAccuracy: 0.1 + (final+0.05-0.1)*f, ValAccuracy: 0.1 + (final-0.1)*f,
			TrainLoss: 2.3 - 1.8*f, ValLoss: 2.3 - 1.6*f, ImagesPerSec: 2500, Seconds: 20,
		}
	}
	return h
}

var (
	recallsA = []float64{0.86, 0.92, 0.71, 0.62, 0.80, 0.72, 0.88, 0.86, 0.91, 0.89}
	recallsB = []float64{0.88, 0.94, 0.74, 0.66, 0.83, 0.75, 0.90, 0.88, 0.93, 0.91}
	recallsC = []float64{0.83, 0.90, 0.66, 0.57, 0.77, 0.69, 0.85, 0.83, 0.89, 0.86}
	recallsD = []float64{0.87, 0.93, 0.72, 0.48, 0.81, 0.73, 0.89, 0.87, 0.92, 0.90}
)

type scenario struct {
	name     string
	summary  Summary
	policy   gate.Policy
	baseline gate.Baseline
}

func base(version string, m *metrics.Metrics, h []metrics.Epoch) Summary {
	return Summary{
		Model: "convnet", Architecture: "convnet: 3 conv blocks (32-64-128) with batch norm, global pooling, linear head", Parameters: 1234567,
		Version: version, Metrics: m, History: h,
		Dataset: "CIFAR-10 (canonical download, 45,000 train / 5,000 validation / 10,000 test)", DatasetDigest: "sha256:0f3c9a" + strings.Repeat("ab", 29), Seed: 7,
		Commit:   "3b18e512dba79e4c8300dd08aeb37f8e728b8dad",
		Settings: []Setting{{"architecture", "convnet"}, {"epochs", fmt.Sprint(len(h))}, {"batch-size", "128"}, {"learning-rate", "0.05"}, {"seed", "7"}, {"data", "download"}},
		Image:    "ghcr.io/octo/cifar:" + version, ImageDigest: "sha256:" + strings.Repeat("9f", 32),
		ReleaseURL: "https://github.com/octo/cifar/releases/tag/" + version, RunURL: "https://github.com/octo/cifar/actions/runs/42",
		Repository: "octo/cifar", PR: 17, HeadSHA: "3b18e512dba79e4c8300dd08aeb37f8e728b8dad",
	}
}

func scenarios() []scenario {
	policy := gate.Policy{MinAccuracy: 0.5, MaxRegression: 1, Metric: gate.MetricAccuracy}
	mA, mB, mC, mD := fixture(cifar, recallsA, 1000), fixture(cifar, recallsB, 1000), fixture(cifar, recallsC, 1000), fixture(cifar, recallsD, 1000)
	withBase := func(s Summary, name string, m *metrics.Metrics) Summary {
		s.Baseline, s.BaselineName = m, name
		return s
	}

	// Oversize: many classes and a long history overflow every section.
	var many []string
	var manyRecalls, manyBase []float64
	for i := 0; i < 500; i++ {
		many = append(many, fmt.Sprintf("class-%03d-with-a-long-descriptive-name", i))
		manyRecalls = append(manyRecalls, 0.5+0.45*float64((i*37)%100)/100)
		manyBase = append(manyBase, 0.5+0.44*float64((i*37)%100)/100)
	}
	big, bigBase := fixture(many, manyRecalls, 50), fixture(many, manyBase, 50)
	bigSummary := withBase(base("v3.0.0", big, history(3000, big.Accuracy)), "v2.9.0", bigBase)
	bigSummary.Settings[1].Value = "3000"

	return []scenario{
		{name: "first-release", summary: base("v1.0.0", mA, history(12, mA.Accuracy)), policy: policy, baseline: gate.FirstRelease()},
		{name: "improvement", summary: withBase(base("v1.1.0", mB, history(12, mB.Accuracy)), "v1.0.0", mA), policy: policy, baseline: gate.FoundBaseline("v1.0.0", mA)},
		{name: "regression-fails", summary: withBase(base("v1.1.0", mC, history(12, mC.Accuracy)), "v1.0.0", mA), policy: policy, baseline: gate.FoundBaseline("v1.0.0", mA)},
		{
			name:    "class-floor-fails",
			summary: withBase(base("v1.1.0", mD, history(12, mD.Accuracy)), "v1.0.0", mA),
			policy:  gate.Policy{MinAccuracy: 0.5, MaxRegression: 1, MinClassAccuracy: 0.55}, baseline: gate.FoundBaseline("v1.0.0", mA),
		},
		{name: "oversize", summary: bigSummary, policy: policy, baseline: gate.FoundBaseline("v2.9.0", bigBase)},
	}
}

func render(t *testing.T, sc scenario, kind Kind) string {
	t.Helper()
	s := sc.summary
	d, err := sc.policy.Check(s.Metrics, sc.baseline)
	if err != nil {
		t.Fatalf("gate: %v", err)
	}
	s.Decision = &d
	out, err := Render(kind, &s)
	if err != nil {
		t.Fatalf("Render(%s): %v", kind, err)
	}
	return out
}

func TestGolden(t *testing.T) {
	for _, sc := range scenarios() {
		for _, kind := range Kinds() {
			if sc.name == "oversize" && kind == KindCard {
				continue // a file, not an API body: never truncated
			}
			t.Run(sc.name+"/"+string(kind), func(t *testing.T) {
				got := render(t, sc, kind)
				path := filepath.Join(goldenDir, sc.name+"-"+string(kind)+".md")
				if *update {
					if err := os.MkdirAll(goldenDir, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/report -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("%s differs from the rendering; inspect and refresh with -update.\n%s", path, firstDiff(string(want), got))
				}
				if n := utf8.RuneCountInString(got); kind != KindCard && n > MaxChars {
					t.Errorf("%d characters, over GitHub's limit %d", n, MaxChars)
				}
			})
		}
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\nwant %q\ngot  %q", i+1, wl, gl)
		}
	}
	return ""
}

func find(t *testing.T, name string) scenario {
	t.Helper()
	for _, sc := range scenarios() {
		if sc.name == name {
			return sc
		}
	}
	t.Fatalf("no scenario %s", name)
	return scenario{}
}

// The golden files pin the layout; these tests state what must be in it.
func TestContent(t *testing.T) {
	tests := []struct {
		scenario string
		kind     Kind
		want     []string
		not      []string
	}{
		{"first-release", KindComment, []string{"<!-- model-release:comment model=convnet sha=3b18e512dba79e4c8300dd08aeb37f8e728b8dad -->\n## ✅ convnet v1.0.0 passed the gate", "(first release)", "First release: there is no earlier release to compare against.", "xychart-beta", "<details>", "git checkout 3b18e512", "--seed=7"}, []string{"▲", "▼"}},
		{"first-release", KindSummary, []string{"## ✅ convnet v1.0.0 passed the gate"}, []string{"<!-- model-release"}},
		{"improvement", KindComment, []string{"▲ +2.50 pts against v1.0.0", "| Accuracy | 84.20% | 81.70% | ▲ +2.50 pts |", "| cat | 66.00% | 62.00% | ▲ +4.00 pts |"}, nil},
		{"regression-fails", KindComment, []string{"## ❌ convnet v1.1.0 failed the gate: 1 of 2 rules failed", "`max-regression`", "❌ fail", "| Accuracy | 78.50% | 81.70% | ▼ -3.20 pts |"}, nil},
		{"class-floor-fails", KindComment, []string{"❌ below 55.00%", "`min-class-accuracy`", "1 of 10 classes below the floor: cat 48.00%"}, nil},
		{"improvement", KindRelease, []string{"docker run --rm -p 8080:8080 ghcr.io/octo/cifar@sha256:9f9f", "## Assets"}, []string{"xychart-beta", "<details>", "<!--"}},
		{"improvement", KindCard, []string{"# Model card: convnet v1.1.0", "## Intended use", "10 classes: airplane, automobile", "## Limitations", "Weakest classes: cat (66.00%)", "## Reproducibility", "xychart-beta"}, []string{"<details>"}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario+"/"+string(tt.kind), func(t *testing.T) {
			out := render(t, find(t, tt.scenario), tt.kind)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(out, w) {
					t.Errorf("output has %q", w)
				}
			}
		})
	}
}

func TestOversizeIsTruncatedLargestFirst(t *testing.T) {
	sc := find(t, "oversize")
	for _, kind := range []Kind{KindComment, KindSummary, KindRelease} {
		out := render(t, sc, kind)
		if n := utf8.RuneCountInString(out); n > MaxChars {
			t.Errorf("%s: %d characters, over %d", kind, n, MaxChars)
		}
		if kind != KindRelease && !strings.Contains(out, "65,536-character limit") {
			t.Errorf("%s: truncation is not said in the text", kind)
		}
	}
	// The untruncated input is far larger: the cut did something.
	s := sc.summary
	if card, err := ModelCard(&s); err != nil || utf8.RuneCountInString(card) <= MaxChars {
		t.Errorf("the oversize fixture is not oversize (%d characters, %v)", utf8.RuneCountInString(card), err)
	}
	out := render(t, sc, KindComment)
	for _, want := range []string{"The confusion matrix was left out", "The chart shows", "weakest of 500 classes", "### Reproduce", "| `max-regression` |"} {
		if !strings.Contains(out, want) {
			t.Errorf("comment lacks %q", want)
		}
	}
	// The weakest class must survive the cut of the per-class table.
	if !strings.Contains(out, "| class-000-with-a-long-descriptive-name | 50.00%") {
		t.Errorf("weakest class missing from the truncated table")
	}
	// Sections are cut no more than needed: a small summary keeps them all.
	small := render(t, find(t, "improvement"), KindComment)
	if strings.Contains(small, "65,536") {
		t.Errorf("a small report says it was truncated")
	}
}

func TestHardCut(t *testing.T) {
	long := "```\n" + strings.Repeat("0123456789\n", MaxChars/5)
	out := hardCut(long)
	if n := utf8.RuneCountInString(out); n > MaxChars {
		t.Fatalf("%d characters", n)
	}
	if !strings.HasSuffix(out, truncatedNote) || strings.Count(out, "```")%2 != 0 {
		t.Errorf("cut report does not close its code fence and say it was cut: ...%q", out[len(out)-200:])
	}
}

func TestMarker(t *testing.T) {
	sha := "3B18E512DBA79E4C8300DD08AEB37F8E728B8DAD"
	mk := Marker("my model", sha)
	if mk != "<!-- model-release:comment model=my-model sha=3b18e512dba79e4c8300dd08aeb37f8e728b8dad -->" {
		t.Errorf("Marker = %q", mk)
	}
	model, gotSHA, ok := ParseMarker("hello\n" + mk + "\nbody")
	if !ok || model != "my-model" || gotSHA != strings.ToLower(sha) {
		t.Errorf("ParseMarker = %q %q %v", model, gotSHA, ok)
	}
	if _, _, ok := ParseMarker("<!-- some other comment -->"); ok {
		t.Errorf("ParseMarker accepted a foreign comment")
	}
	s := find(t, "first-release").summary
	out, err := Comment(&s)
	if err != nil {
		t.Fatal(err)
	}
	if m, sh, ok := ParseMarker(out); !ok || m != "convnet" || sh != s.HeadSHA || !strings.HasPrefix(out, "<!-- model-release:comment") {
		t.Errorf("comment marker: %q %q %v", m, sh, ok)
	}
}

func TestRenderEdgeCases(t *testing.T) {
	if _, err := Render(KindComment, &Summary{}); err == nil || !strings.Contains(err.Error(), "no metrics") {
		t.Errorf("no metrics: err = %v", err)
	}
	m := fixture([]string{"a|b", "<c>"}, []float64{0.9, 0.8}, 10)
	s := &Summary{Metrics: m}
	if _, err := Render("html", s); err == nil || !strings.Contains(err.Error(), `"html"`) {
		t.Errorf("unknown kind: err = %v", err)
	}
	out, err := JobSummary(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`| a\|b |`, "| &lt;c&gt; |", "## 📊 convnet: evaluation results", "No baseline to compare against."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"### Gate", "### Training", "\n\n\n"} {
		if strings.Contains(out, bad) {
			t.Errorf("output has %q:\n%s", bad, out)
		}
	}
}

func TestSample(t *testing.T) {
	tests := []struct {
		total, n int
		want     string
	}{
		{5, 10, "[0 1 2 3 4]"},
		{10, 4, "[0 3 6 9]"},
		{1, 10, "[0]"},
		{100, 1, "[0 99]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(sample(tt.total, tt.n)); got != tt.want {
			t.Errorf("sample(%d, %d) = %s, want %s", tt.total, tt.n, got, tt.want)
		}
	}
}
