package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.MinAccuracy = 1.5
	c.MaxRegression = -1
	c.Epochs = 0
	c.Device = "tpu"
	c.Version = "1.2"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want errors")
	}
	for _, want := range []string{`"min-accuracy"`, `"max-regression"`, `"epochs"`, `"device"`, `"version"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestSetIsStrict(t *testing.T) {
	cases := []struct{ name, value, wantErr string }{
		{"push", "yes", "is not true or false"},
		{"push", "True", "is not true or false"},
		{"epochs", "3.5", "is not a whole number"},
		{"min-accuracy", "0.7x", "is not a number"},
		{"min-accuracy", "NaN", "is not a number"},
		{"nope", "1", "unknown option"},
	}
	for _, tc := range cases {
		c := Default()
		err := c.Set(tc.name, tc.value, "input")
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Set(%q, %q) = %v, want error containing %q", tc.name, tc.value, err, tc.wantErr)
		}
	}
	c := Default()
	if err := c.Set("min-accuracy", " 0.75 ", "input"); err != nil || c.MinAccuracy != 0.75 {
		t.Errorf("Set(min-accuracy, 0.75) = %v, value %v", err, c.MinAccuracy)
	}
}

func TestSecretNeverShownInErrors(t *testing.T) {
	// Secrets are strings today, but the error path must never echo a secret value.
	c := Default()
	if err := c.Set("github-token", "ghp_secret", "input"); err != nil {
		t.Fatal(err)
	}
	if c.GitHubToken != "ghp_secret" {
		t.Fatalf("token not set")
	}
	o, _ := Lookup("github-token")
	if !o.Secret {
		t.Fatal("github-token is not marked secret")
	}
}

func TestEnvNames(t *testing.T) {
	o, ok := Lookup("min-class-accuracy")
	if !ok || o.EnvName() != "MODEL_RELEASE_MIN_CLASS_ACCURACY" {
		t.Fatalf("EnvName = %q", o.EnvName())
	}
	seen := map[string]bool{}
	for _, o := range Options() {
		if seen[o.Name] {
			t.Errorf("option %q declared twice", o.Name)
		}
		seen[o.Name] = true
		if o.Help == "" {
			t.Errorf("option %q has no help text", o.Name)
		}
	}
}

func TestPrecedenceFileEnvFlag(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mr.yml")
	if err := os.WriteFile(file, []byte("epochs: 7\nbatch-size: 16\nmin-accuracy: 0.6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var fl Flags
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fl.Bind(fs, "config", "epochs", "batch-size", "min-accuracy", "push")
	if err := fs.Parse([]string{"--config", file, "--epochs", "9", "--push=false"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := fl.Load(env(map[string]string{"MODEL_RELEASE_EPOCHS": "8", "MODEL_RELEASE_BATCH_SIZE": "32"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Epochs != 9 { // flag beats env beats file
		t.Errorf("epochs = %d, want 9 (flag)", cfg.Epochs)
	}
	if cfg.BatchSize != 32 { // env beats file
		t.Errorf("batch-size = %d, want 32 (env)", cfg.BatchSize)
	}
	if cfg.MinAccuracy != 0.6 { // file beats default
		t.Errorf("min-accuracy = %v, want 0.6 (file)", cfg.MinAccuracy)
	}
	if cfg.Push {
		t.Error("push = true, want false (flag)")
	}
}

func TestBadFlagValueNamesFlag(t *testing.T) {
	var fl Flags
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	fl.Bind(fs, "epochs")
	err := fs.Parse([]string{"--epochs", "many"})
	if err == nil || !strings.Contains(err.Error(), "epochs") || !strings.Contains(err.Error(), "whole number") {
		t.Fatalf("Parse error = %v", err)
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.yml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := Default()
	if err := c.ApplyFile(write("epochs: [1"), true); err == nil || !strings.Contains(err.Error(), "not valid YAML") {
		t.Errorf("bad YAML: %v", err)
	}
	if err := c.ApplyFile(write("epocs: 3\n"), true); err == nil || !strings.Contains(err.Error(), `unknown option "epocs"`) {
		t.Errorf("unknown key: %v", err)
	}
	if err := c.ApplyFile(write("github-token: abc\n"), true); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Errorf("secret in file: %v", err)
	}
	if strings.Contains(func() string { err := c.ApplyFile(write("github-token: abc\n"), true); return err.Error() }(), "abc") {
		t.Error("error echoes the secret")
	}
	if err := c.ApplyFile(filepath.Join(dir, "missing.yml"), false); err != nil {
		t.Errorf("optional missing file: %v", err)
	}
	if err := c.ApplyFile(filepath.Join(dir, "missing.yml"), true); err == nil {
		t.Error("required missing file: no error")
	}
}

func TestChannelList(t *testing.T) {
	c := Default()
	c.Channels = " candidate, ,stable "
	got := c.ChannelList()
	if strings.Join(got, "|") != "candidate|stable" {
		t.Errorf("ChannelList = %q", got)
	}
	c.Channels = "Stable"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `"channels"`) {
		t.Errorf("uppercase channel accepted: %v", err)
	}
}
