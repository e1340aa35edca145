package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/exitcode"
)

func pushTestModel(t *testing.T) (model, bin string) {
	t.Helper()
	model = t.TempDir()
	w := []byte(strings.Repeat("weights", 1000))
	sum := sha256.Sum256(w)
	meta, _ := json.Marshal(map[string]string{"architecture": "convnet", "weights_sha256": hex.EncodeToString(sum[:])})
	for name, b := range map[string][]byte{"model.safetensors": w, "model.json": meta} {
		if err := os.WriteFile(filepath.Join(model, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin = filepath.Join(t.TempDir(), "model-release")
	if err := os.WriteFile(bin, []byte("fake static binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	return model, bin
}

func TestPushDryRunAndLayoutAgreeOnDigest(t *testing.T) {
	model, bin := pushTestModel(t)
	env := map[string]string{"GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567", "GITHUB_REPOSITORY": "Owner/Repo", "SOURCE_DATE_EPOCH": "1700000000"}
	dry, stderr, code := runCLI(t, env, "push", "--model", model, "--binary", bin, "--version", "v1.2.3+b1", "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, stderr)
	}
	digest := strings.TrimSpace(dry)
	if !strings.HasPrefix(digest, "sha256:") || len(digest) != 71 {
		t.Fatalf("stdout %q is not a digest", dry)
	}
	if !strings.Contains(stderr, "ghcr.io/owner/repo") || !strings.Contains(stderr, "1.2.3_b1") || !strings.Contains(stderr, "sha-0123456") {
		t.Errorf("dry run log lacks the image or tags:\n%s", stderr)
	}

	dir := filepath.Join(t.TempDir(), "layout")
	out, stderr, code := runCLI(t, env, "push", "--model", model, "--binary", bin, "--version", "v1.2.3+b1", "--oci-layout", dir)
	if code != 0 || strings.TrimSpace(out) != digest {
		t.Fatalf("layout: exit %d, digest %q, want %s\n%s", code, out, digest, stderr)
	}
	idx, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil || !strings.Contains(string(idx), digest) || !strings.Contains(string(idx), `"1.2.3_b1"`) {
		t.Fatalf("index.json %s (err %v) lacks %s", idx, err, digest)
	}
}

func TestPushUsageErrors(t *testing.T) {
	model, bin := pushTestModel(t)
	for _, args := range [][]string{
		{"push", "--image", "ghcr.io/o/r", "--dry-run"},                                                   // no model
		{"push", "--model", model, "--binary", bin, "--dry-run"},                                          // no image
		{"push", "--model", model, "--binary", bin, "--image", "ghcr.io/o/r:tag", "--dry-run"},            // tag in image
		{"push", "--model", model, "--binary", bin, "--image", "ghcr.io/o/r", "--tag", "-x", "--dry-run"}, // bad tag
		{"push", "--model", model, "--binary", bin, "--image", "ghcr.io/o/r", "--created", "yesterday", "--dry-run"},
	} {
		if _, stderr, code := runCLI(t, nil, args...); code != exitcode.Usage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitcode.Usage, stderr)
		}
	}
}

// The binary option is push's --binary: the environment (or the config
// file) sets it too, and gives the same image as the flag.
func TestPushBinaryIsTheBinaryOption(t *testing.T) {
	model, bin := pushTestModel(t)
	env := map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}
	args := []string{"push", "--model", model, "--image", "ghcr.io/o/r", "--version", "1.0.0", "--dry-run"}
	byFlag, stderr, code := runCLI(t, env, append(args, "--binary", bin)...)
	if code != 0 {
		t.Fatalf("--binary: exit %d\n%s", code, stderr)
	}
	env["MODEL_RELEASE_BINARY"] = bin
	byEnv, stderr, code := runCLI(t, env, args...)
	if code != 0 || byEnv != byFlag {
		t.Fatalf("MODEL_RELEASE_BINARY: exit %d, digest %q, want %q\n%s", code, byEnv, byFlag, stderr)
	}
	other := filepath.Join(t.TempDir(), "model-release")
	if err := os.WriteFile(other, []byte("another binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	env["MODEL_RELEASE_BINARY"] = other
	if got, _, _ := runCLI(t, env, args...); got == byFlag {
		t.Errorf("MODEL_RELEASE_BINARY=%s gave the digest of %s: the option is ignored", other, bin)
	}
}
