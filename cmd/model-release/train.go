package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/dataset"
	"github.com/model-release/model-release/internal/train"
)

// trainOptions are the options `model-release train` reads.
var trainOptions = []string{
	"config", "work-dir", "data", "cache-dir", "validation-split",
	"architecture", "epochs", "batch-size", "learning-rate", "optimizer", "momentum",
	"weight-decay", "schedule", "warmup-epochs", "augment", "patience", "seed",
	"resume", "kernels", "threads", "device",
}

func newTrainCmd(a *app) *cobra.Command {
	var fl config.Flags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a CIFAR-10 model into <work-dir>/model and write <work-dir>/metrics.json",
		Long: `Train a network on the dataset, validating after each epoch on a held-out
fraction of the training images, then evaluate it on the test split (or the
validation split when there is none).

Writes <work-dir>/model/ (model.safetensors, model.json, metrics.json),
<work-dir>/metrics.json and <work-dir>/checkpoint/. Ctrl-C saves a checkpoint;
--resume continues from it with the same weights an uninterrupted run gets.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			ds, err := dataset.Load(ctx, cfg.Data, a.dataOptions(cfg)...)
			if err != nil {
				return fmt.Errorf("loading training data: %w", err)
			}
			data := train.FromDataset(ds, cfg.ValidationSplit, cfg.Seed)
			a.log.Info("training", "architecture", cfg.Architecture, "data", ds.Source,
				"train", data.Train.Len(), "validation", data.Val.Len(), "test", data.Test.Len(),
				"epochs", cfg.Epochs, "batch_size", cfg.BatchSize, "kernels", cfg.Kernels)
			var progress io.Writer
			if v, _ := a.lookupEnv("GITHUB_ACTIONS"); v != "true" && isTerminal(a.stderr) {
				progress = a.stderr
			}
			res, err := train.Run(ctx, cfg, data, train.Options{
				Log: a.log, Progress: progress, GitCommit: train.GitCommit(ctx, a.lookupEnv),
			})
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					ModelDir string `json:"model_dir"`
					Metrics  any    `json:"metrics"`
				}{res.ModelDir, res.Metrics})
			}
			fmt.Fprintf(a.stdout, "model: %s\naccuracy: %.4f (top-3 %.4f) on %d %s images\n",
				res.ModelDir, res.Metrics.Accuracy, res.Metrics.Top3Accuracy, res.Metrics.Samples, res.Metrics.Split)
			return nil
		},
	}
	fl.Bind(cmd.Flags(), trainOptions...)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the model folder and metrics as JSON")
	return cmd
}
