package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/exitcode"
	"github.com/model-release/model-release/internal/github"
	"github.com/model-release/model-release/internal/pipeline"
	"github.com/model-release/model-release/internal/promote"
	"github.com/model-release/model-release/internal/registry"
)

// promoteFlags are the options promote, rollback, history and prune share.
var promoteFlags = []string{"config", "dry-run", "repository", "github-token", "github-api-url",
	"image", "registry", "registry-username", "registry-password", "channels", "tag-prefix"}

func newPromoteCmd(a *app) *cobra.Command {
	var fl config.Flags
	cmd := &cobra.Command{
		Use:   "promote VERSION --to CHANNEL [--reason WHY]",
		Short: "Point a release channel (candidate, staging, stable) at a version",
		Long: `promote moves the channel tag of the model image to VERSION's digest
(nothing is pushed again), records the move in the channel history (who,
when, from which version, why) and, for the last (production) channel,
marks VERSION's GitHub Release as latest.

Only a version whose gate and deployment check passed (its release.json)
can be promoted; --force overrides that and needs --reason, both recorded.
Promoting the version a channel already points at is a no-op.

The move goes to stdout as "channel: from -> to".`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return exitcode.AsUsage(fmt.Errorf("promote takes one VERSION, e.g. v1.2.0, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			return a.runPromote(cmd.Context(), cfg, args[0])
		},
	}
	fl.Bind(cmd.Flags(), append(promoteFlags, "to", "reason", "force")...)
	return cmd
}

func newRollbackCmd(a *app) *cobra.Command {
	var fl config.Flags
	cmd := &cobra.Command{
		Use:   "rollback [--channel stable] [--to VERSION] [--reason WHY]",
		Short: "Move a channel back to its previous version in one step",
		Long: `rollback moves a channel (default: the production channel, the last of
--channels) back to the version before the current one in its history,
or to --to VERSION. Rolling back twice goes two versions back. The move is
recorded like a promotion; a version the channel never served is checked
like a promotion (--force with --reason overrides).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			return a.runRollback(cmd.Context(), cfg)
		},
	}
	fl.Bind(cmd.Flags(), append(promoteFlags, "channel", "to", "reason", "force")...)
	return cmd
}

// runPromote points cfg.To at version: the promote command, and the action's
// command promote (version from the version input).
func (a *app) runPromote(ctx context.Context, cfg config.Config, version string) error {
	if cfg.To == "" {
		return exitcode.AsUsage(errors.New("--to is required: the channel to move, one of " + cfg.Channels))
	}
	p, err := a.promoter(ctx, cfg)
	if err != nil {
		return err
	}
	res, err := p.Promote(ctx, promote.Request{Version: version, Channel: cfg.To, Reason: cfg.Reason, Force: cfg.Force})
	if err != nil {
		return err
	}
	printMove(a.stdout, res)
	return nil
}

// runRollback moves cfg.Channel back: the rollback command and the action's
// command rollback.
func (a *app) runRollback(ctx context.Context, cfg config.Config) error {
	p, err := a.promoter(ctx, cfg)
	if err != nil {
		return err
	}
	res, err := p.Rollback(ctx, promote.RollbackRequest{Channel: cfg.Channel, To: cfg.To, Reason: cfg.Reason, Force: cfg.Force})
	if err != nil {
		return err
	}
	printMove(a.stdout, res)
	return nil
}

// dispatchCommands are the channel commands the action runs for
// workflow_dispatch (command promote, rollback, prune), the same functions
// as the CLI commands.
func (a *app) dispatchCommands() map[string]pipeline.Command {
	return map[string]pipeline.Command{
		"promote": pipeline.CommandFunc(func(ctx context.Context, cfg config.Config) error {
			if cfg.Version == "" {
				return exitcode.AsUsage(errors.New(`command promote needs the version input: the release to promote, e.g. v1.2.0 (and "to": the channel)`))
			}
			return a.runPromote(ctx, cfg, cfg.Version)
		}),
		"rollback": pipeline.CommandFunc(a.runRollback),
		"prune": pipeline.CommandFunc(func(ctx context.Context, cfg config.Config) error {
			return a.runPrune(ctx, cfg, cfg.PruneReleases)
		}),
	}
}

func printMove(w io.Writer, res promote.Result) {
	m := res.Move
	from := m.From
	if from == "" {
		from = "(none)"
	}
	note := ""
	switch {
	case res.NoOp:
		note = " (already there, nothing changed)"
	case m.Forced:
		note = " (forced)"
	}
	fmt.Fprintf(w, "%s: %s -> %s%s\n", m.Channel, from, m.Version, note)
}

// promoteEnv is what the channel commands share: the GitHub client, the
// registry and the image repository.
type promoteEnv struct {
	gh     *github.Client
	pusher *registry.Pusher
	image  string
}

func (a *app) promoteEnv(cfg config.Config) (promoteEnv, error) {
	if cfg.GitHubToken == "" {
		cfg.GitHubToken = a.env("GITHUB_TOKEN")
	}
	gh, err := a.ghClient(cfg)
	if err != nil {
		return promoteEnv{}, err
	}
	image := cfg.Image
	if image == "" {
		image = cfg.Registry + "/" + gh.Repository()
	}
	if image, err = registry.Repository(image); err != nil {
		return promoteEnv{}, exitcode.AsUsage(fmt.Errorf("--image: %w", err))
	}
	return promoteEnv{gh: gh, pusher: registry.NewPusher(a.registryOptions(cfg)...), image: image}, nil
}

// promoter wires a Promoter; with --dry-run its writes are printed instead.
func (a *app) promoter(ctx context.Context, cfg config.Config) (*promote.Promoter, error) {
	pe, err := a.promoteEnv(cfg)
	if err != nil {
		return nil, err
	}
	p := &promote.Promoter{
		GitHub: pe.gh, Images: pe.pusher, Store: promote.ReleaseStore{GitHub: pe.gh},
		Image: pe.image, Channels: cfg.ChannelList(), TagPrefix: cfg.TagPrefix,
		Actor: a.actor(ctx, pe.gh), Log: a.log,
	}
	if cfg.DryRun {
		p.GitHub = dryLatest{Releases: pe.gh, w: a.stdout}
		p.Images = dryTagger{Images: pe.pusher, w: a.stdout}
		p.Store = dryStore{Store: p.Store, w: a.stdout}
	}
	return p, nil
}

// actor is who moves a channel: GITHUB_ACTOR, else the token's login, else
// $USER.
func (a *app) actor(ctx context.Context, gh *github.Client) string {
	if v := a.env("GITHUB_ACTOR"); v != "" {
		return v
	}
	if login, err := gh.Login(ctx); err == nil && login != "" {
		return login
	}
	if v := a.env("USER"); v != "" {
		return v
	}
	return "unknown"
}

// The dry stand-ins read for real and print each write.

type dryTagger struct {
	promote.Images
	w io.Writer
}

func (d dryTagger) Tag(_ context.Context, ref, digest, tag string) error {
	fmt.Fprintf(d.w, "would tag %s as %s\n", digest, tag)
	return nil
}

type dryLatest struct {
	promote.Releases
	w io.Writer
}

func (d dryLatest) SetLatest(_ context.Context, tag string) error {
	fmt.Fprintf(d.w, "would mark release %s as latest\n", tag)
	return nil
}

type dryStore struct {
	promote.Store
	w io.Writer
}

func (d dryStore) Save(_ context.Context, h promote.History, _ string) error {
	m := h.Moves[len(h.Moves)-1]
	fmt.Fprintf(d.w, "would record %s %s: %s -> %s by %s\n", m.Kind, m.Channel, m.From, m.Version, m.Actor)
	return nil
}
