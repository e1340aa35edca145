package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/action"
	"github.com/model-release/model-release/internal/exitcode"
)

// actionEnv is a strict environment: reading a variable it does not know
// fails the test.
func actionEnv(t *testing.T, env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		switch {
		case ok, strings.HasPrefix(k, "MODEL_RELEASE_"), strings.HasPrefix(k, "RUNNER_"),
			k == "GITHUB_REPOSITORY", k == "GITHUB_API_URL", k == "GITHUB_SHA", k == "GITHUB_REF", k == "GITHUB_TOKEN",
			k == "XDG_CACHE_HOME", k == "HOME",
			k == "GITHUB_ACTIONS", k == "GITHUB_ACTOR", k == "GITHUB_SERVER_URL", k == "GITHUB_RUN_ID", k == "SOURCE_DATE_EPOCH":
		case declaredInput(k):
		case strings.HasPrefix(k, "INPUT_"):
			t.Errorf("read undeclared input variable %s", k)
		default:
			t.Errorf("read unexpected variable %s", k)
		}
		return v, ok && v != ""
	}
}

func TestActionEntrypointReportsEvenWhenAStageFails(t *testing.T) {
	dir := t.TempDir()
	out, sum := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	env := actionEnv(t, map[string]string{
		"GITHUB_EVENT_NAME":   "pull_request",
		"GITHUB_EVENT_PATH":   filepath.Join("..", "..", "testdata", "events", "pull_request_synchronize_fork.json"),
		"GITHUB_OUTPUT":       out,
		"GITHUB_STEP_SUMMARY": sum,
		"INPUT_GITHUB-TOKEN":  "ghs_topsecret",
		"INPUT_DRY-RUN":       "true",
		"INPUT_MODEL":         filepath.Join(dir, "missing"),
		"INPUT_EPOCHS":        "1",
	})
	var stdout, stderr bytes.Buffer
	err := realMain(context.Background(), []string{"action"}, &stdout, &stderr, env)
	if exitcode.For(err) != exitcode.Error || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("err %v (exit %d)", err, exitcode.For(err))
	}
	if !strings.HasPrefix(stdout.String(), "::add-mask::ghs_topsecret\n") {
		t.Errorf("token not masked first:\n%s", stdout.String())
	}
	if strings.Count(stdout.String()+stderr.String(), "ghs_topsecret") != 1 {
		t.Errorf("token printed beyond the mask command")
	}
	for _, g := range []string{"::group::preflight", "::group::train", "::group::outputs"} {
		if !strings.Contains(stdout.String(), g) {
			t.Errorf("stdout lacks %s:\n%s", g, stdout.String())
		}
	}
	o, _ := os.ReadFile(out)
	s, _ := os.ReadFile(sum)
	if !strings.Contains(string(o), "passed<<") || !strings.Contains(string(s), "Stopped at train") || !strings.Contains(string(s), "stranger/cifar") {
		t.Errorf("outputs:\n%s\nsummary:\n%s", o, s)
	}
}

func TestActionBadInputIsUsageError(t *testing.T) {
	env := actionEnv(t, map[string]string{"INPUT_MIN-ACCURACY": "0.7x"})
	err := realMain(context.Background(), []string{"action"}, &bytes.Buffer{}, &bytes.Buffer{}, env)
	if exitcode.For(err) != exitcode.Usage || !strings.Contains(err.Error(), `input "min-accuracy": "0.7x" is not a number`) {
		t.Errorf("err %v", err)
	}
}

func declaredInput(k string) bool {
	for _, n := range action.InputNames {
		if k == "INPUT_"+strings.ToUpper(n) {
			return true
		}
	}
	return false
}
