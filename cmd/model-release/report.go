package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/exitcode"
	"github.com/model-release/model-release/internal/gate"
	"github.com/model-release/model-release/internal/metrics"
	"github.com/model-release/model-release/internal/model"
	"github.com/model-release/model-release/internal/report"
)

type reportFlags struct {
	format, metrics, model          string
	version, image, digest, release string
	sha                             string
	pr                              int
}

func newReportCmd(a *app) *cobra.Command {
	var fl config.Flags
	var o reportFlags
	cmd := &cobra.Command{
		Use:   "report --format comment|summary|release|card --metrics FILE [--baseline FILE] [--model DIR]",
		Short: "Print the PR comment, job summary, release notes or model card as markdown",
		Long: `Render a report from the metrics of a model, compared with a baseline and
judged by the gate, and print the markdown on stdout:

  comment  the sticky pull-request comment (starts with a hidden marker)
  summary  the Actions job summary (the comment without the marker)
  release  the GitHub Release notes
  card     MODEL_CARD.md

--model DIR adds what model.json knows (architecture, training history and
settings, dataset digest, seed, commit); its metrics.json is used when
--metrics is not given. The report shows the gate's decision but its exit
code does not depend on it: use model-release gate for that.

` + gateUnitsHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			kind := report.Kind(o.format)
			if !validKind(kind) {
				return exitcode.AsUsage(fmt.Errorf("--format %q is not one of comment, summary, release, card", o.format))
			}
			s, err := a.reportSummary(&cfg, o)
			if err != nil {
				return err
			}
			b := a.resolveBaseline(cmd.Context(), &cfg)
			d, err := gate.PolicyFromConfig(&cfg).Check(s.Metrics, b)
			if err != nil {
				return err
			}
			for _, w := range d.Warnings {
				a.log.Warn(w)
			}
			s.Decision, s.Baseline, s.BaselineName = &d, b.Metrics, b.Name
			out, err := report.Render(kind, s)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(a.stdout, out)
			return err
		},
	}
	fl.Bind(cmd.Flags(), gateOptions...)
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "comment", "what to render: comment, summary, release or card")
	f.StringVar(&o.metrics, "metrics", "", "metrics.json of the model (default: the one in --model)")
	f.StringVar(&o.model, "model", "", "model folder or model.json, for architecture, history and reproducibility facts")
	f.StringVar(&o.version, "version", "", "version shown in the headline, e.g. v1.3.0")
	f.StringVar(&o.image, "image", "", "image reference of the model, e.g. ghcr.io/owner/name:v1.3.0")
	f.StringVar(&o.digest, "digest", "", "image digest, sha256:...")
	f.StringVar(&o.release, "release-url", "", "link to the GitHub Release")
	f.IntVar(&o.pr, "pr", 0, "pull request number")
	f.StringVar(&o.sha, "sha", "", "head commit named in the comment marker (default: GITHUB_SHA)")
	return cmd
}

func validKind(k report.Kind) bool {
	for _, v := range report.Kinds() {
		if k == v {
			return true
		}
	}
	return false
}

// reportSummary gathers what the flags, the model folder and the Actions
// environment say about the model.
func (a *app) reportSummary(cfg *config.Config, o reportFlags) (*report.Summary, error) {
	s := &report.Summary{
		Version: o.version, Image: o.image, ImageDigest: o.digest, ReleaseURL: o.release,
		PR: o.pr, HeadSHA: o.sha, RunURL: a.runURL(), Repository: a.ghRepository(*cfg),
	}
	if s.HeadSHA == "" {
		s.HeadSHA, _ = a.lookupEnv("GITHUB_SHA")
	}
	if o.model != "" {
		md, dir, err := readModelMetadata(o.model)
		if err != nil {
			return nil, err
		}
		fillFromMetadata(s, md)
		if o.metrics == "" {
			if _, err := os.Stat(filepath.Join(dir, metrics.FileName)); err == nil {
				o.metrics = filepath.Join(dir, metrics.FileName)
			} else if md.Metrics != nil {
				s.Metrics = md.Metrics
			}
		}
	}
	if o.metrics != "" {
		m, err := metrics.Read(o.metrics)
		if err != nil {
			return nil, err
		}
		s.Metrics = m
	}
	if s.Metrics == nil {
		return nil, exitcode.AsUsage(errors.New("no metrics: give --metrics FILE, or --model DIR holding metrics.json"))
	}
	return s, nil
}

// readModelMetadata reads model.json from a model folder, a model.json or
// the model.safetensors beside it; it returns the folder too.
func readModelMetadata(path string) (*model.Metadata, string, error) {
	dir, file := path, filepath.Join(path, model.MetadataFile)
	if st, err := os.Stat(path); err != nil {
		return nil, "", fmt.Errorf("reading model: %w", err)
	} else if !st.IsDir() {
		dir = filepath.Dir(path)
		file = filepath.Join(dir, model.MetadataFile)
		if strings.EqualFold(filepath.Ext(path), ".json") {
			file = path
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("reading model metadata: %w", err)
	}
	var md model.Metadata
	if err := json.Unmarshal(b, &md); err != nil {
		return nil, "", fmt.Errorf("model metadata %s is not valid JSON: %w", file, err)
	}
	return &md, dir, nil
}

func fillFromMetadata(s *report.Summary, md *model.Metadata) {
	s.Model = md.Architecture
	s.History = md.History
	s.DatasetDigest = md.DatasetDigest
	s.Seed = md.Seed
	s.Commit = md.GitCommit
	for _, t := range md.Tensors {
		if strings.HasSuffix(t.Name, "running_mean") || strings.HasSuffix(t.Name, "running_var") || strings.HasSuffix(t.Name, "num_batches_tracked") {
			continue // statistics, not learned parameters
		}
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		s.Parameters += n
	}
	tr := md.Training
	fl := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	s.Settings = []report.Setting{
		{Name: "architecture", Value: md.Architecture},
		{Name: "epochs", Value: strconv.Itoa(tr.Epochs)},
		{Name: "batch-size", Value: strconv.Itoa(tr.BatchSize)},
		{Name: "learning-rate", Value: fl(tr.LearningRate)},
		{Name: "optimizer", Value: tr.Optimizer},
		{Name: "momentum", Value: fl(tr.Momentum)},
		{Name: "weight-decay", Value: fl(tr.WeightDecay)},
		{Name: "schedule", Value: tr.Schedule},
		{Name: "warmup-epochs", Value: fl(tr.WarmupEpochs)},
		{Name: "augment", Value: strconv.FormatBool(tr.Augment)},
		{Name: "patience", Value: strconv.Itoa(tr.Patience)},
		{Name: "validation-split", Value: fl(tr.ValidationSplit)},
		{Name: "kernels", Value: tr.Kernels},
		{Name: "seed", Value: strconv.FormatInt(md.Seed, 10)},
	}
	// Options the metadata does not record stay out of the command, so the
	// reproduction takes their defaults instead of an empty value.
	kept := s.Settings[:0]
	for _, st := range s.Settings {
		if st.Value != "" {
			kept = append(kept, st)
		}
	}
	s.Settings = kept
	if tr.TrainImages > 0 {
		s.Dataset = fmt.Sprintf("%d training and %d validation images", tr.TrainImages, tr.ValImages)
	}
}
