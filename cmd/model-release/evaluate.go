package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/dataset"
	"github.com/model-release/model-release/internal/evaluate"
	"github.com/model-release/model-release/internal/exitcode"
	"github.com/model-release/model-release/internal/metrics"
	"github.com/model-release/model-release/internal/model"
)

func newEvaluateCmd(a *app) *cobra.Command {
	var fl config.Flags
	var asJSON bool
	var output string
	cmd := &cobra.Command{
		Use:   "evaluate --model DIR [--data D] [--json]",
		Short: "Evaluate a model on a dataset's test split",
		Long: `Evaluate a saved model on the test split of --data (on all its images when
it has no test split): accuracy, top-3, per-class precision and recall, the
confusion matrix and the mean loss. Uses the same prediction path as serve.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			if cfg.Model == "" {
				return exitcode.AsUsage(fmt.Errorf("evaluate needs --model: a model folder or model.safetensors"))
			}
			m, err := model.Load(cfg.Model)
			if err != nil {
				return err
			}
			ds, err := dataset.Load(cmd.Context(), cfg.Data, a.dataOptions(cfg)...)
			if err != nil {
				return fmt.Errorf("loading evaluation data: %w", err)
			}
			split := ds.Test
			if split.Len() == 0 {
				a.log.Warn("the data has no test split: evaluating on all its training images", "data", ds.Source)
				split = ds.Train
			}
			md := m.Metadata()
			if len(md.Classes) != len(ds.Classes) {
				return fmt.Errorf("model has %d classes but data %s has %d", len(md.Classes), ds.Source, len(ds.Classes))
			}
			met, err := evaluate.Evaluate(cmd.Context(), m, split.Images, split.Labels, md.Classes)
			if err != nil {
				return err
			}
			met.Architecture, met.Split, met.DatasetDigest = md.Architecture, split.Name, ds.Digest()
			if output != "" {
				if err := metrics.Write(output, met); err != nil {
					return err
				}
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(met)
			}
			fmt.Fprintf(a.stdout, "accuracy %.4f  top-3 %.4f  mean loss %.4f  (%d %s images)\n", met.Accuracy, met.Top3Accuracy, met.MeanLoss, met.Samples, met.Split)
			for _, c := range met.PerClass {
				fmt.Fprintf(a.stdout, "  %-12s precision %.3f  recall %.3f  support %d\n", c.Class, c.Precision, c.Recall, c.Support)
			}
			return nil
		},
	}
	fl.Bind(cmd.Flags(), "config", "model", "data", "cache-dir")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the metrics as JSON")
	cmd.Flags().StringVar(&output, "output", "", "also write the metrics to this file (metrics.json)")
	return cmd
}
