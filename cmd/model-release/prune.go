package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/promote"
	"github.com/model-release/model-release/internal/promote/retention"
)

func newPruneCmd(a *app) *cobra.Command {
	var fl config.Flags
	var releases bool
	cmd := &cobra.Command{
		Use:   "prune [--keep-days N] [--keep-last K] [--apply] [--releases]",
		Short: "Delete old model images (and releases) by the retention rule; dry run by default",
		Long: `prune keeps every version a channel points at or pointed at within
--keep-days, the --keep-last newest versions, and of the older ones about
one per doubling of age (dense recent history, sparse old history), and
deletes the other versions' images: on ghcr.io through the GitHub Packages
API (the token needs delete:packages), elsewhere through the registry API.
pr-N images of pull requests closed more than --keep-days ago go too.

It never deletes a channel's image, what a kept index lists, signatures
(*.sig) or sha256-* referrer tags, nor an image with a tag it does not
manage. --releases also deletes the GitHub Releases of dropped versions
(git tags stay).

Without --apply it only prints the plan.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			return a.runPrune(cmd.Context(), cfg, releases || cfg.PruneReleases)
		},
	}
	fl.Bind(cmd.Flags(), append(promoteFlags, "keep-days", "keep-last", "apply", "prune-releases")...)
	cmd.Flags().BoolVar(&releases, "releases", false, "also delete the GitHub Releases of pruned versions (same as --prune-releases)")
	return cmd
}

// runPrune prints the retention plan and, with apply (and not dry-run), acts
// on it: the prune command and the action's command prune.
func (a *app) runPrune(ctx context.Context, cfg config.Config, releases bool) error {
	pe, err := a.promoteEnv(cfg)
	if err != nil {
		return err
	}
	var images promote.ImageStore = promote.RegistryImages{Registry: pe.pusher, Image: pe.image}
	if strings.HasPrefix(pe.image, "ghcr.io/") {
		images = promote.GHCRImages{Packages: pe.gh, Registry: pe.pusher, Image: pe.image}
	}
	p := &promote.Pruner{
		GitHub: pe.gh, Images: images, PRs: promote.GitHubPRs{GitHub: pe.gh},
		Policy:    retention.Policy{KeepDays: cfg.KeepDays, KeepLast: cfg.KeepLast},
		TagPrefix: cfg.TagPrefix, Channels: cfg.ChannelList(), Log: a.log,
	}
	h, err := promote.ReleaseStore{GitHub: pe.gh}.Load(ctx)
	if err != nil {
		return err
	}
	plan, err := p.Plan(ctx, h)
	if err != nil {
		return err
	}
	if err := plan.Write(a.stdout, releases); err != nil {
		return err
	}
	if !cfg.Apply || cfg.DryRun {
		a.log.Info("dry run: nothing deleted; pass --apply to act on the plan")
		return nil
	}
	return p.Apply(ctx, plan, releases)
}
