package main

import (
	"io"
	"log/slog"
	"testing"

	"github.com/model-release/model-release/internal/config"
)

func TestSampleDemoKeepsWhatTheUserChose(t *testing.T) {
	cfg := config.Default()
	cfg.Epochs = 3 // from the environment or the YAML file
	changed := func(name string) bool { return name == "architecture" }
	applySampleDemo(&cfg, changed, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if cfg.Epochs != 3 {
		t.Errorf("epochs = %d, want the user's 3", cfg.Epochs)
	}
	if cfg.Architecture != config.Default().Architecture {
		t.Errorf("architecture = %s, want the flag's value kept", cfg.Architecture)
	}
	if cfg.Optimizer != "adamw" || cfg.LearningRate != 0.002 || cfg.MinAccuracy != 0.2 {
		t.Errorf("demo settings not applied: %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("demo settings are invalid: %v", err)
	}
}
