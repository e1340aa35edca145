package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/dataset"
	"github.com/model-release/model-release/internal/exitcode"
	"github.com/model-release/model-release/internal/model"
)

// classProb is one class and its probability.
type classProb struct {
	Class       string  `json:"class"`
	Probability float32 `json:"probability"`
}

// prediction is one image's result in `predict --json`.
type prediction struct {
	File  string      `json:"file"`
	Class string      `json:"class"`
	Top3  []classProb `json:"top3"`
}

func newPredictCmd(a *app) *cobra.Command {
	var fl config.Flags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "predict --model DIR IMAGE...",
		Short: "Classify 32x32 JPEG or PNG images with a saved model",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return exitcode.AsUsage(fmt.Errorf("predict needs at least one image file"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			if cfg.Model == "" {
				return exitcode.AsUsage(fmt.Errorf("predict needs --model: a model folder or model.safetensors"))
			}
			m, err := model.Load(cfg.Model)
			if err != nil {
				return err
			}
			images := make([]uint8, 0, len(args)*model.ImageSize)
			for _, p := range args {
				f, err := os.Open(p)
				if err != nil {
					return fmt.Errorf("reading image: %w", err)
				}
				img, err := dataset.DecodeImage(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("image %s: %w", p, err)
				}
				images = append(images, img...)
			}
			probs, err := m.Predict(images, len(args))
			if err != nil {
				return err
			}
			classes := m.Metadata().Classes
			k := len(classes)
			out := make([]prediction, len(args))
			for i, p := range args {
				row := probs[i*k : (i+1)*k]
				order := make([]int, k)
				for j := range order {
					order[j] = j
				}
				sort.SliceStable(order, func(x, y int) bool { return row[order[x]] > row[order[y]] })
				pr := prediction{File: p, Class: classes[order[0]]}
				for _, j := range order[:min(3, k)] {
					pr.Top3 = append(pr.Top3, classProb{classes[j], row[j]})
				}
				out[i] = pr
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			for _, pr := range out {
				fmt.Fprintf(a.stdout, "%s: %s", pr.File, pr.Class)
				for _, c := range pr.Top3 {
					fmt.Fprintf(a.stdout, "  %s %.3f", c.Class, c.Probability)
				}
				fmt.Fprintln(a.stdout)
			}
			return nil
		},
	}
	fl.Bind(cmd.Flags(), "config", "model")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print predictions as JSON")
	return cmd
}
