package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/github"
	"github.com/model-release/model-release/internal/github/githubtest"
)

const testSHA = "0123456789abcdef0123456789abcdef01234567"

func releaseTestDir(t *testing.T) string {
	dir := t.TempDir()
	for _, n := range []string{"model.safetensors", "model.json", "metrics.json"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("content of "+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReleaseCommentStatusCommands(t *testing.T) {
	srv := githubtest.New(t)
	srv.SetPR(githubtest.PR{Number: 4, HeadSHA: testSHA})
	env := map[string]string{"GITHUB_TOKEN": githubtest.DefaultToken, "GITHUB_REPOSITORY": "octo/cifar", "GITHUB_API_URL": srv.URL}
	dir := releaseTestDir(t)

	out, errOut, code := runCLI(t, env, "release", "--tag", "v0.1.0", "--sha", testSHA, "--assets", dir)
	if code != 0 || !strings.Contains(out, "/releases/tag/v0.1.0") {
		t.Fatalf("release: exit %d, %q %s", code, out, errOut)
	}
	if strings.Contains(errOut, githubtest.DefaultToken) {
		t.Error("the token was logged")
	}
	rels := srv.Releases()
	if len(rels) != 1 || rels[0].Draft || len(rels[0].Assets) != 4 {
		t.Fatalf("releases %+v", rels)
	}

	body := filepath.Join(t.TempDir(), "c.md")
	os.WriteFile(body, []byte(github.Marker("cifar10", testSHA)+"\nreport"), 0o644)
	if out, errOut, code := runCLI(t, env, "comment", "--pr", "4", "--body", body); code != 0 || !strings.HasPrefix(out, "created") {
		t.Fatalf("comment: exit %d, %q %s", code, out, errOut)
	}
	if out, errOut, code := runCLI(t, env, "status", "--sha", testSHA, "--state", "success", "--title", "ok"); code != 0 || !strings.HasPrefix(out, "check-run") {
		t.Fatalf("status: exit %d, %q %s", code, out, errOut)
	}
	if n := len(srv.Comments(4)); n != 1 {
		t.Errorf("%d comments", n)
	}
	if runs := srv.CheckRuns(); len(runs) != 1 || runs[0].Conclusion != "success" {
		t.Errorf("check runs %+v", runs)
	}
}

func TestReleaseDryRunWritesNothing(t *testing.T) {
	srv := githubtest.New(t)
	env := map[string]string{"GITHUB_REPOSITORY": "octo/cifar", "GITHUB_API_URL": srv.URL}
	out, errOut, code := runCLI(t, env, "release", "--dry-run", "--tag", "v0.1.0", "--sha", testSHA, "--assets", releaseTestDir(t))
	if code != 0 || !strings.Contains(out, "would POST /repos/octo/cifar/releases") || !strings.Contains(out, "SHA256SUMS") {
		t.Fatalf("dry release: exit %d, %q %s", code, out, errOut)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("a dry run made %d requests", n)
	}
}

func TestReleaseUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"release", "--tag", "v1.0.0"},
		{"release", "--tag", "v1.0.0", "--sha", testSHA, "--assets", "/nonexistent"},
		{"comment", "--pr", "0", "--body", "x"},
		{"status", "--state", "success"},
	} {
		if _, _, code := runCLI(t, map[string]string{}, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
