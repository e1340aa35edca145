package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/dataset"
	"github.com/model-release/model-release/internal/gate"
	"github.com/model-release/model-release/internal/github"
	"github.com/model-release/model-release/internal/metrics"
	"github.com/model-release/model-release/internal/pipeline"
	semver "github.com/model-release/model-release/internal/version"
)

// Adapters from the real packages to the pipeline's interfaces. What is not
// wired yet (training, evaluation, releases, comments, statuses, image
// push and verify) is left nil: its stage fails or skips with a message
// that says so, and dry-run still prints the plan.

// pipelineDeps builds the dependencies for one run.
func (a *app) pipelineDeps(cfg config.Config) (pipeline.Deps, error) {
	d := pipeline.Deps{
		Log:  a.log,
		Data: dataLoader{log: a.log, lookupEnv: a.lookupEnv},
		Gate: &gateAdapter{policy: gate.PolicyFromConfig(&cfg)},
	}
	d.Baselines = d.Gate.(*gateAdapter)
	d.Versioner = versioner{}
	if cfg.GitHubToken != "" && cfg.Repository != "" {
		gh, err := github.New(cfg.GitHubToken, cfg.GitHubAPI, cfg.Repository, github.WithLogger(a.log))
		if err != nil {
			return d, fmt.Errorf("github client: %w", err)
		}
		d.Tags = gh
		d.Versioner = versioner{tags: gh}
	}
	return d, nil
}

type dataLoader struct {
	log       *slog.Logger
	lookupEnv func(string) (string, bool)
}

func (l dataLoader) Load(ctx context.Context, source string) (pipeline.Dataset, error) {
	return dataset.Load(ctx, source, dataset.WithLogger(l.log), dataset.WithLookupEnv(l.lookupEnv))
}

// gateAdapter resolves the baseline and applies the policy.
type gateAdapter struct {
	policy   gate.Policy
	fetcher  gate.ReleaseAssetFetcher // nil until releases are wired
	baseline gate.Baseline
}

func (g *gateAdapter) Baseline(ctx context.Context, spec string) (*metrics.Metrics, string, error) {
	switch {
	case spec == "none":
		g.baseline = gate.NoBaseline()
	case g.fetcher == nil && spec == "latest":
		g.baseline = gate.Unavailable("latest release", "no GitHub client to read releases")
	default:
		g.baseline = gate.ResolveBaseline(ctx, spec, g.fetcher)
	}
	return g.baseline.Metrics, g.baseline.Name, nil
}

func (g *gateAdapter) Check(m, _ *metrics.Metrics) (pipeline.Decision, error) {
	d, err := g.policy.Check(m, g.baseline)
	if err != nil {
		return pipeline.Decision{}, err
	}
	out := pipeline.Decision{Passed: d.Passed}
	for _, r := range d.Failed() {
		reason := fmt.Sprintf("%s: %s is %.4f, limit %.4f", r.Name, r.Check, r.Measured, r.Limit)
		if r.Note != "" {
			reason += " (" + r.Note + ")"
		}
		out.Reasons = append(out.Reasons, reason)
	}
	out.Reasons = append(out.Reasons, d.Warnings...)
	return out, nil
}

type tagLister interface {
	ListTags(ctx context.Context) (map[string]string, error)
}

// versioner picks the next version from the repository's tags.
type versioner struct{ tags tagLister }

func (v versioner) Next(ctx context.Context, in pipeline.VersionInput) (string, error) {
	var names []string
	if v.tags != nil {
		m, err := v.tags.ListTags(ctx)
		if err != nil {
			return "", fmt.Errorf("listing tags: %w", err)
		}
		for n := range m {
			names = append(names, n)
		}
	}
	r, err := semver.Next(semver.Input{Tags: names, Prefix: in.TagPrefix, Bump: in.Bump, Labels: in.Labels})
	if err != nil {
		return "", err
	}
	if r.Version == nil {
		return "", errors.New("no version chosen")
	}
	return r.Version.String(), nil
}
