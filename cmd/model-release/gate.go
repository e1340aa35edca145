package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/exitcode"
	"github.com/model-release/model-release/internal/gate"
	"github.com/model-release/model-release/internal/github"
	"github.com/model-release/model-release/internal/metrics"
)

// gateOptions are the config options that shape the gate and its baseline.
var gateOptions = []string{
	"min-accuracy", "max-regression", "min-class-accuracy", "gate-metric", "baseline",
	"config", "github-token", "github-api-url", "repository",
}

const gateUnitsHelp = `Units: min-accuracy and min-class-accuracy are fractions from 0 to 1
(0.5 = 50%); max-regression is in accuracy POINTS (1.0 = one percentage
point = 0.01 of accuracy). A value exactly at a limit passes.

--baseline is a metrics.json, model.json or model folder, "latest" (the
metrics.json asset of the latest release; the default), a release tag, or
"none". A baseline that cannot be read is reported and the comparison is
skipped; with no release at all the comparison passes as a first release.`

func newGateCmd(a *app) *cobra.Command {
	var fl config.Flags
	var metricsPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "gate --metrics FILE [--baseline FILE|latest|TAG|none]",
		Short: "Decide whether evaluated metrics pass the release gate",
		Long: `Apply the release gate to the metrics of a candidate model and print every
rule with its measured value, its limit and its result. Exits with code 3
when the gate fails.

` + gateUnitsHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			if metricsPath == "" {
				return exitcode.AsUsage(errors.New("--metrics is required: the metrics.json written by model-release evaluate"))
			}
			m, err := metrics.Read(metricsPath)
			if err != nil {
				return err
			}
			d, err := a.decide(cmd.Context(), &cfg, m)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(d); err != nil {
					return fmt.Errorf("writing decision: %w", err)
				}
			} else if err := d.WriteTable(a.stdout); err != nil {
				return fmt.Errorf("writing decision: %w", err)
			}
			return d.Err()
		},
	}
	fl.Bind(cmd.Flags(), gateOptions...)
	cmd.Flags().StringVar(&metricsPath, "metrics", "", "metrics.json of the candidate model (written by model-release evaluate)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the decision as JSON")
	return cmd
}

// decide resolves the baseline named by the config and applies the policy.
// Warnings (a baseline that could not be read) go to the log as well as
// into the decision.
func (a *app) decide(ctx context.Context, cfg *config.Config, m *metrics.Metrics) (gate.Decision, error) {
	b := a.resolveBaseline(ctx, cfg)
	d, err := gate.PolicyFromConfig(cfg).Check(m, b)
	if err != nil {
		return d, err
	}
	for _, w := range d.Warnings {
		a.log.Warn(w)
	}
	return d, nil
}

// resolveBaseline reads the baseline; a release baseline needs a GitHub
// client, and without one the comparison is skipped with the reason.
func (a *app) resolveBaseline(ctx context.Context, cfg *config.Config) gate.Baseline {
	var fetcher gate.ReleaseAssetFetcher
	if gate.NeedsRelease(cfg.Baseline) {
		c, err := a.ghClient(*cfg)
		if err != nil {
			return gate.Unavailable("latest release", "no GitHub client to read the release baseline ("+err.Error()+"); pass --baseline with a metrics.json file, or --baseline none")
		}
		fetcher = ReleaseBaselineFetcher(c)
	}
	return gate.ResolveBaseline(ctx, cfg.Baseline, fetcher)
}

// ReleaseBaselineFetcher adapts the GitHub client to the gate: a missing
// release or asset (github.ErrNotFound) becomes fs.ErrNotExist, which the
// gate reads as "no baseline" rather than as a failure to fetch one.
func ReleaseBaselineFetcher(c *github.Client) gate.ReleaseAssetFetcher { return notFoundAsNotExist{c} }

type notFoundAsNotExist struct{ f gate.ReleaseAssetFetcher }

func (n notFoundAsNotExist) FetchReleaseAsset(ctx context.Context, tag, name string) ([]byte, error) {
	b, err := n.f.FetchReleaseAsset(ctx, tag, name)
	if err != nil && errors.Is(err, github.ErrNotFound) && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (%w)", err, fs.ErrNotExist)
	}
	return b, err
}
