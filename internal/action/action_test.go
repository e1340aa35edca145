package action

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/pipeline"
)

var update = flag.Bool("update", false, "rewrite the generated tables in docs/action.md")

const root = "../.."

// strictEnv is a getenv that fails the test on any variable it was not
// told about, so the code cannot read an undeclared input or setting.
func strictEnv(t *testing.T, env map[string]string) func(string) string {
	t.Helper()
	known := map[string]bool{}
	for _, n := range InputNames {
		known["INPUT_"+strings.ToUpper(n)] = true
	}
	for _, o := range config.Options() {
		known[o.EnvName()] = true
	}
	for _, k := range []string{"GITHUB_REPOSITORY", "GITHUB_API_URL", "GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITHUB_SHA", "GITHUB_REF", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"} {
		known[k] = true
	}
	for k := range env {
		if !known[k] {
			t.Fatalf("test sets unknown variable %s", k)
		}
	}
	return func(k string) string {
		if !known[k] {
			t.Errorf("code read undeclared variable %s", k)
		}
		return env[k]
	}
}

func TestInputsMatchActionYML(t *testing.T) {
	inputs, outputs, err := ReadMetadata(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for _, p := range inputs {
		declared = append(declared, p.Name)
		if p.Description == "" {
			t.Errorf("input %s has no description", p.Name)
		}
	}
	if !reflect.DeepEqual(declared, InputNames) {
		t.Errorf("action.yml inputs and the inputs the code reads differ:\naction.yml %v\ncode       %v", declared, InputNames)
	}
	for _, n := range InputNames {
		if _, ok := config.Lookup(n); !ok {
			t.Errorf("input %s is not a config option", n)
		}
	}
	var outs []string
	for _, p := range outputs {
		outs = append(outs, p.Name)
	}
	if !reflect.DeepEqual(outs, pipeline.OutputNames) {
		t.Errorf("action.yml outputs %v, pipeline sets %v", outs, pipeline.OutputNames)
	}
	// A default stated in a description must be the real one.
	def := config.Default()
	for _, p := range inputs {
		_, stated := splitDefault(p.Description)
		if stated == "" || strings.ContainsAny(stated, " <") || p.Name == "config" {
			continue
		}
		if got := def.Get(p.Name); got != stated {
			t.Errorf("input %s: description says default %q, config.Default() has %q", p.Name, stated, got)
		}
	}
}

func TestDocsTableMatchesActionYML(t *testing.T) {
	inputs, outputs, err := ReadMetadata(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	want := MarkdownTables(inputs, outputs)
	// The README carries the same table as docs/action.md.
	for _, path := range []string{filepath.Join(root, "docs", "action.md"), filepath.Join(root, "README.md")} {
		checkTable(t, path, want)
	}
}

func checkTable(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const start, end = "<!-- action-table:start -->\n", "<!-- action-table:end -->"
	doc := string(b)
	i, j := strings.Index(doc, start), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q ... %q markers", path, start, end)
	}
	if got := doc[i+len(start) : j]; got != want {
		if *update {
			if err := os.WriteFile(path, []byte(doc[:i+len(start)]+want+doc[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("the table in %s is out of date with action.yml; run go test ./internal/action -update\nwant:\n%s", path, want)
	}
}

func TestConfigFromInputs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mr.yml")
	os.WriteFile(file, []byte("epochs: 7\nbatch-size: 64\n"), 0o644)
	var out bytes.Buffer
	a := New(strictEnv(t, map[string]string{
		"INPUT_GITHUB-TOKEN":              "ghs_secret",
		"INPUT_CONFIG":                    file,
		"INPUT_EPOCHS":                    "3", // input beats the file
		"INPUT_MIN-ACCURACY":              "0.6",
		"INPUT_DRY-RUN":                   "true",
		"MODEL_RELEASE_BUMP":              "minor",
		"GITHUB_REPOSITORY":               "octo/cifar",
		"GITHUB_API_URL":                  "https://ghe.example/api/v3",
		"MODEL_RELEASE_PATIENCE":          "2",
		"MODEL_RELEASE_REGISTRY_PASSWORD": "reg_secret",
	}), &out)
	c, err := a.Config()
	if err != nil {
		t.Fatal(err)
	}
	if c.Epochs != 3 || c.BatchSize != 64 || c.MinAccuracy != 0.6 || !c.DryRun || c.Bump != "minor" || c.Patience != 2 ||
		c.Repository != "octo/cifar" || c.GitHubAPI != "https://ghe.example/api/v3" || c.GitHubToken != "ghs_secret" {
		t.Errorf("config %+v", c)
	}
	if !strings.HasPrefix(out.String(), "::add-mask::ghs_secret\n") {
		t.Errorf("the token is not masked first; stdout:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "::add-mask::reg_secret\n") {
		t.Errorf("the registry password is not masked; stdout:\n%s", out.String())
	}
}

func TestBadInputsNameTheInput(t *testing.T) {
	cases := map[string]string{
		"INPUT_MIN-ACCURACY": `input "min-accuracy": "0.7x" is not a number`,
		"INPUT_PUSH":         `input "push": "yes" is not true or false`,
		"INPUT_EPOCHS":       `"epochs": 0 is not a whole number from 1 to 10000`,
		"INPUT_DEVICE":       `"device": "tpu" is not one of auto, cpu, gpu`,
	}
	vals := map[string]string{"INPUT_MIN-ACCURACY": "0.7x", "INPUT_PUSH": "yes", "INPUT_EPOCHS": "0", "INPUT_DEVICE": "tpu"}
	for k, want := range cases {
		a := New(strictEnv(t, map[string]string{k: vals[k]}), &bytes.Buffer{})
		_, err := a.Config()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=%s: error %v, want it to contain %s", k, vals[k], err, want)
		}
	}
	a := New(strictEnv(t, map[string]string{"INPUT_CONFIG": "/nonexistent.yml"}), &bytes.Buffer{})
	if _, err := a.Config(); err == nil || !strings.Contains(err.Error(), `input "config"`) {
		t.Errorf("missing config file: %v", err)
	}
}

func TestOutputsSummaryAndGroups(t *testing.T) {
	dir := t.TempDir()
	outFile, sumFile := filepath.Join(dir, "out"), filepath.Join(dir, "sum")
	var stdout bytes.Buffer
	a := New(strictEnv(t, map[string]string{"GITHUB_OUTPUT": outFile, "GITHUB_STEP_SUMMARY": sumFile}), &stdout)
	a.StageStarted("train")
	a.StageDone("train", nil, 0)
	if err := a.SetOutput("accuracy", "0.81"); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteSummary("## hello\n"); err != nil {
		t.Fatal(err)
	}
	o, _ := os.ReadFile(outFile)
	s, _ := os.ReadFile(sumFile)
	if !strings.Contains(string(o), "accuracy<<") || !strings.Contains(string(o), "\n0.81\n") {
		t.Errorf("GITHUB_OUTPUT:\n%s", o)
	}
	if !strings.Contains(string(s), "## hello") {
		t.Errorf("GITHUB_STEP_SUMMARY:\n%s", s)
	}
	if stdout.String() != "::group::train\n::endgroup::\n" {
		t.Errorf("stdout %q", stdout.String())
	}
	// Without the files, errors instead of go-githubactions' panic.
	b := New(strictEnv(t, nil), &stdout)
	if err := b.SetOutput("x", "y"); err == nil {
		t.Error("SetOutput without GITHUB_OUTPUT: no error")
	}
}

func TestEvent(t *testing.T) {
	a := New(strictEnv(t, map[string]string{
		"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": filepath.Join(root, "testdata", "events", "pull_request_opened.json"),
		"GITHUB_SHA": "m", "GITHUB_REF": "refs/pull/7/merge",
	}), &bytes.Buffer{})
	ev, err := a.Event()
	if err != nil || ev.PRNumber != 7 {
		t.Fatalf("%+v %v", ev, err)
	}
	b := New(strictEnv(t, map[string]string{"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": filepath.Join(root, "testdata", "events", "malformed_pull_request.json")}), &bytes.Buffer{})
	if _, err := b.Event(); err == nil || !strings.Contains(err.Error(), "malformed_pull_request.json") {
		t.Errorf("malformed: %v", err)
	}
}
