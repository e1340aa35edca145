package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/dataset"
	"github.com/model-release/model-release/internal/exitcode"
)

func newDataCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Inspect or download the dataset",
		Long: `Inspect or download the CIFAR-10 dataset a run would use.

--data takes a folder or .tar.gz (CIFAR-10 binary batches, or an image tree
<split>/<class>/*.jpg), "download" for the canonical CIFAR-10 archive, an
http(s) URL, or nothing for the sample embedded in the binary.`,
		Args: noArgs,
	}
	cmd.AddCommand(newDataInspectCmd(a), newDataFetchCmd(a))
	return cmd
}

// dataOptions are the dataset options every data command shares.
func (a *app) dataOptions(cfg config.Config) []dataset.Option {
	return []dataset.Option{
		dataset.WithLogger(a.log),
		dataset.WithLookupEnv(a.lookupEnv),
		dataset.WithCacheDir(cfg.CacheDir),
		dataset.WithProgress(a.stderr, nil),
	}
}

// splitReport is one split in `data inspect --json`.
type splitReport struct {
	Name        string         `json:"name"`
	Images      int            `json:"images"`
	ClassCounts map[string]int `json:"class_counts"`
	Mean        [3]float32     `json:"mean"`
	Std         [3]float32     `json:"std"`
}

type inspectReport struct {
	Source          string        `json:"source"`
	Digest          string        `json:"digest"`
	Classes         []string      `json:"classes"`
	ImageShape      [3]int        `json:"image_shape"` // channels, height, width
	Splits          []splitReport `json:"splits"`
	ValidationSplit float64       `json:"validation_split"`
	TrainAfterSplit int           `json:"train_after_validation_split"`
	Validation      int           `json:"validation"`
}

func newDataInspectCmd(a *app) *cobra.Command {
	var fl config.Flags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Print splits, class counts, image size, mean/std and the digest of a dataset",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			d, err := dataset.Load(cmd.Context(), cfg.Data, a.dataOptions(cfg)...)
			if err != nil {
				return err
			}
			rep := inspectReport{
				Source:          d.Source,
				Digest:          d.Digest(),
				Classes:         d.Classes,
				ImageShape:      [3]int{dataset.Channels, dataset.ImageSize, dataset.ImageSize},
				ValidationSplit: cfg.ValidationSplit,
			}
			for _, s := range []*dataset.Split{d.Train, d.Test} {
				if s == nil {
					continue
				}
				sr := splitReport{Name: s.Name, Images: s.Len(), ClassCounts: map[string]int{}}
				for i, n := range s.ClassCounts(len(d.Classes)) {
					sr.ClassCounts[d.Classes[i]] = n
				}
				sr.Mean, sr.Std = s.MeanStd()
				rep.Splits = append(rep.Splits, sr)
			}
			tr, va := d.Train.Split(cfg.ValidationSplit, cfg.Seed)
			rep.TrainAfterSplit, rep.Validation = tr.Len(), va.Len()
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printInspect(a, rep)
			return nil
		},
	}
	fl.Bind(cmd.Flags(), "data", "cache-dir", "validation-split", "seed", "config")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printInspect(a *app, rep inspectReport) {
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "source:\t%s\n", rep.Source)
	fmt.Fprintf(w, "digest:\t%s\n", rep.Digest)
	fmt.Fprintf(w, "image:\t%dx%dx%d (channels x height x width, uint8)\n", rep.ImageShape[0], rep.ImageShape[1], rep.ImageShape[2])
	for _, s := range rep.Splits {
		fmt.Fprintf(w, "%s:\t%d images\n", s.Name, s.Images)
		fmt.Fprintf(w, "  mean (r g b):\t%.4f %.4f %.4f\n", s.Mean[0], s.Mean[1], s.Mean[2])
		fmt.Fprintf(w, "  std (r g b):\t%.4f %.4f %.4f\n", s.Std[0], s.Std[1], s.Std[2])
		for _, c := range rep.Classes {
			fmt.Fprintf(w, "  %s\t%d\n", c, s.ClassCounts[c])
		}
	}
	fmt.Fprintf(w, "validation split:\t%g of train: %d train, %d validation\n", rep.ValidationSplit, rep.TrainAfterSplit, rep.Validation)
	w.Flush()
}

func newDataFetchCmd(a *app) *cobra.Command {
	var fl config.Flags
	cmd := &cobra.Command{
		Use:   "fetch",
		Short: "Download and cache a dataset archive; print its path",
		Long: `Download the dataset named by --data ("download", the default, for the
canonical CIFAR-10 archive, or an http(s) URL) into the cache, verify its
checksum, and print the cached file's path. An interrupted download resumes
on the next run; a verified cached copy is reused.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			src := cfg.Data
			if src == "" {
				src = dataset.Download
			}
			if src != dataset.Download && !isURL(src) {
				return exitcode.AsUsage(fmt.Errorf("data fetch: --data %q is local; want %q or an http(s) URL (use data inspect for local data)", src, dataset.Download))
			}
			p, err := dataset.Fetch(cmd.Context(), src, a.dataOptions(cfg)...)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, p)
			return nil
		},
	}
	fl.Bind(cmd.Flags(), "data", "cache-dir", "config")
	return cmd
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}
