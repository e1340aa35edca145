package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/exitcode"
	"github.com/model-release/model-release/internal/github/githubtest"
	"github.com/model-release/model-release/internal/metrics"
)

// writeMetrics stores a two-class metrics.json with the given accuracy and
// cat accuracy and returns its path.
func writeMetrics(t *testing.T, dir, name string, acc, cat float64) string {
	t.Helper()
	m := &metrics.Metrics{
		Schema: 1, Architecture: "convnet", Split: "test", Samples: 1000, Accuracy: acc, Top3Accuracy: 1, MeanLoss: 0.5,
		Classes:   []string{"dog", "cat"},
		PerClass:  []metrics.ClassMetrics{{Class: "dog", Precision: 0.9, Recall: 0.9, Support: 500}, {Class: "cat", Precision: 0.8, Recall: cat, Support: 500}},
		Confusion: [][]int{{450, 50}, {100, 400}},
	}
	p := filepath.Join(dir, name)
	if err := metrics.Write(p, m); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGateCommand(t *testing.T) {
	dir := t.TempDir()
	cur := writeMetrics(t, dir, "cur.json", 0.75, 0.6)
	base := writeMetrics(t, dir, "base.json", 0.80, 0.7)
	tied := writeMetrics(t, dir, "tied.json", 0.79, 0.6)

	tests := []struct {
		name string
		args []string
		code int
		out  []string
	}{
		{"regression fails with exit 3", []string{"gate", "--metrics", cur, "--baseline", base}, exitcode.GateFailed, []string{"Gate FAILED", "max-regression", "-5.00 pts", "fail"}},
		{"drop exactly at the limit passes", []string{"gate", "--metrics", tied, "--baseline", base}, exitcode.OK, []string{"Gate PASSED", "-1.00 pts"}},
		{"class floor", []string{"gate", "--metrics", cur, "--baseline", "none", "--min-class-accuracy", "0.65"}, exitcode.GateFailed, []string{"min-class-accuracy", "cat 60.00%"}},
		{"floor", []string{"gate", "--metrics", cur, "--baseline", "none", "--min-accuracy", "0.9"}, exitcode.GateFailed, []string{"min-accuracy", "≥ 90.00%"}},
		{"missing baseline file warns and skips", []string{"gate", "--metrics", cur, "--baseline", filepath.Join(dir, "nope.json")}, exitcode.OK, []string{"skipped", "warning: baseline comparison skipped"}},
		{"invalid policy is a usage error", []string{"gate", "--metrics", cur, "--max-regression", "-1"}, exitcode.Usage, nil},
		{"floor above 1 is a usage error", []string{"gate", "--metrics", cur, "--min-accuracy", "50"}, exitcode.Usage, nil},
		{"no metrics is a usage error", []string{"gate"}, exitcode.Usage, nil},
		{"unreadable metrics is an error", []string{"gate", "--metrics", filepath.Join(dir, "nope.json")}, exitcode.Error, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			for _, w := range tt.out {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestGateCommandJSON(t *testing.T) {
	dir := t.TempDir()
	cur := writeMetrics(t, dir, "cur.json", 0.75, 0.6)
	out, _, code := runCLI(t, nil, "gate", "--metrics", cur, "--baseline", "none", "--min-accuracy", "0.8", "--json")
	if code != exitcode.GateFailed {
		t.Fatalf("exit %d", code)
	}
	var d struct {
		Passed bool `json:"passed"`
		Rules  []struct {
			Name, Status string
			Measured     float64
		} `json:"rules"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if d.Passed || len(d.Rules) != 2 || d.Rules[0].Status != "fail" || d.Rules[0].Measured != 0.75 || d.Rules[1].Status != "skipped" {
		t.Errorf("decision %+v", d)
	}
}

// The latest release's metrics.json comes through the GitHub client; with
// no release yet the comparison passes as a first release.
func TestGateCommandReleaseBaseline(t *testing.T) {
	dir := t.TempDir()
	cur := writeMetrics(t, dir, "cur.json", 0.75, 0.6)
	srv := githubtest.New(t)
	env := map[string]string{"GITHUB_TOKEN": githubtest.DefaultToken, "GITHUB_REPOSITORY": "octo/cifar", "GITHUB_API_URL": srv.URL}

	out, errOut, code := runCLI(t, env, "gate", "--metrics", cur)
	if code != exitcode.OK || !strings.Contains(out, "first release") || strings.Contains(out, "warning") {
		t.Fatalf("no release: exit %d\n%s\n%s", code, out, errOut)
	}

	b, err := os.ReadFile(writeMetrics(t, dir, "base.json", 0.80, 0.7))
	if err != nil {
		t.Fatal(err)
	}
	srv.AddRelease(githubtest.Release{Tag: "v1.0.0", Target: strings.Repeat("a", 40), Latest: true, Assets: []githubtest.Asset{{Name: "metrics.json", Data: b}}})
	out, errOut, code = runCLI(t, env, "gate", "--metrics", cur)
	if code != exitcode.GateFailed || !strings.Contains(out, "-5.00 pts") || !strings.Contains(out, "80.00% → 75.00%") {
		t.Fatalf("latest release: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, githubtest.DefaultToken) {
		t.Error("the token was printed")
	}

	out, _, code = runCLI(t, env, "gate", "--metrics", cur, "--baseline", "v0.9.0")
	if code != exitcode.OK || !strings.Contains(out, "warning: baseline comparison skipped: release v0.9.0") {
		t.Fatalf("missing tag: exit %d\n%s", code, out)
	}
}

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	modelDir := filepath.Join(dir, "model")
	if err := os.Mkdir(modelDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeMetrics(t, modelDir, "metrics.json", 0.75, 0.6)
	meta := `{"schema":1,"architecture":"convnet","classes":["dog","cat"],"dataset_digest":"sha256:feed","seed":42,
	  "git_commit":"` + strings.Repeat("c", 40) + `","training":{"epochs":2,"batch_size":64,"learning_rate":0.1,"augment":true},
	  "tensors":[{"name":"fc.weight","shape":[2,10]},{"name":"fc.bias","shape":[2]},{"name":"bn.running_mean","shape":[10]}],
	  "history":[{"epoch":1,"train_accuracy":0.5,"val_accuracy":0.6},{"epoch":2,"train_accuracy":0.7,"val_accuracy":0.75}]}`
	if err := os.WriteFile(filepath.Join(modelDir, "model.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	base := writeMetrics(t, dir, "base.json", 0.70, 0.5)
	env := map[string]string{"GITHUB_SHA": strings.Repeat("d", 40)}

	tests := []struct {
		format string
		want   []string
	}{
		{"comment", []string{"<!-- model-release:comment model=convnet sha=" + strings.Repeat("d", 40) + " -->", "▲ +5.00 pts against " + base, "x-axis \"epoch\" [1, 2]", "--augment=true", "--seed=42", "git checkout cccc", "<details>"}},
		{"summary", []string{"## ✅ convnet passed the gate", "| cat | 60.00% | 50.00% | ▲ +10.00 pts |"}},
		{"release", []string{"## Assets", "## Reproduce"}},
		{"card", []string{"# Model card: convnet", "Trainable parameters: 22", "sha256:feed"}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			out, errOut, code := runCLI(t, env, "report", "--format", tt.format, "--model", modelDir, "--baseline", base)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	if _, _, code := runCLI(t, nil, "report", "--format", "html", "--metrics", base); code != exitcode.Usage {
		t.Errorf("bad format: exit %d, want usage", code)
	}
	if _, _, code := runCLI(t, nil, "report"); code != exitcode.Usage {
		t.Errorf("no metrics: exit %d, want usage", code)
	}
	// A failed gate still renders and exits 0: the report is the product.
	out, _, code := runCLI(t, nil, "report", "--format", "summary", "--metrics", filepath.Join(modelDir, "metrics.json"), "--baseline", "none", "--min-accuracy", "0.9")
	if code != 0 || !strings.Contains(out, "failed the gate") {
		t.Errorf("failed gate report: exit %d\n%s", code, out)
	}
}
