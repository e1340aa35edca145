package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/exitcode"
	"github.com/model-release/model-release/internal/metrics"
	"github.com/model-release/model-release/internal/model"
	"github.com/model-release/model-release/internal/serve"
)

func newServeCmd(a *app) *cobra.Command {
	var fl config.Flags
	cmd := &cobra.Command{
		Use:   "serve --model DIR|FILE [--addr :8080]",
		Short: "Serve predictions from a model over HTTP",
		Long: `serve answers predictions from one model over HTTP until SIGTERM or
Ctrl-C, then finishes the requests in flight and exits.

  POST /v1/predict   a JPEG or PNG body (Content-Type image/jpeg or image/png),
                     or {"images":["<base64>",...]} (application/json, up to
                     --max-images images). Returns per image the class, the
                     top-k classes with probabilities (?top_k=N, default 3)
                     and the model version.
  GET  /v1/model     metadata and evaluation metrics of the model
  GET  /healthz      200 while the process is alive
  GET  /readyz       200 once the model is loaded, 503 before
  GET  /metrics      Prometheus text format: requests by route and code,
                     latency histogram, in-flight requests, images predicted

The server listens at once and loads the model in the background: until it
is loaded, /readyz and /v1/predict answer 503.

Images of any size are accepted and resized (stretched, aspect ratio not
kept) to 32x32 by area averaging; 32x32 images reach the model unchanged.
Grayscale and alpha images are converted to RGB. Images over 4096x4096
pixels are rejected. Errors are JSON {"error":"..."} with 400 (bad image,
JSON, base64 or top_k), 413 (body over --max-body-bytes or more than
--max-images images), 415 (other content types) or 503 (still loading).

--version sets the version reported (e.g. MODEL_RELEASE_VERSION in the
model image).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			if cfg.Model == "" {
				return exitcode.AsUsage(errors.New("serve needs --model: a model folder or its model.safetensors"))
			}
			s := serve.New(
				serve.WithMaxBodyBytes(cfg.MaxBodyBytes),
				serve.WithMaxImages(cfg.MaxImages),
				serve.WithWorkers(cfg.ServeWorkers), // 0: one per CPU
				serve.WithLogger(a.log),
			)
			return s.ListenAndServe(cmd.Context(), cfg.Addr, modelLoader(cfg.Model, cfg.Version))
		},
	}
	fl.Bind(cmd.Flags(), "model", "addr", "max-body-bytes", "max-images", "serve-workers", "version", "config")
	return cmd
}

// modelLoader loads the model at path for the server. Metrics come from
// metrics.json beside the model when there is one, else from model.json.
func modelLoader(path, version string) serve.Loader {
	return func(ctx context.Context) (*serve.Model, error) {
		m, err := model.Load(path)
		if err != nil {
			return nil, err
		}
		md := m.Metadata()
		var mets any
		if md.Metrics != nil {
			mets = md.Metrics
		}
		dir := path
		if st, err := os.Stat(path); err == nil && !st.IsDir() {
			dir = filepath.Dir(path)
		}
		if mm, err := metrics.Read(filepath.Join(dir, metrics.FileName)); err == nil {
			mets = mm
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("model %s: %w", path, err)
		}
		return &serve.Model{Predictor: m, Classes: md.Classes, Version: version, Metadata: md, Metrics: mets}, nil
	}
}
