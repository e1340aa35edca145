package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/exitcode"
	"github.com/model-release/model-release/internal/github"
)

// releaser is what the release command needs: the real client or its dry
// stand-in.
type releaser interface {
	Publish(ctx context.Context, spec github.ReleaseSpec) (github.Release, error)
}

func newReleaseCmd(a *app) *cobra.Command {
	var fl config.Flags
	var tag, sha, assetsDir, bodyFile string
	var prerelease bool
	cmd := &cobra.Command{
		Use:   "release --tag T --sha S --assets DIR",
		Short: "Create or complete the GitHub Release for a model, with its files",
		Long: `release makes the GitHub Release for --tag exist at commit --sha, with the
model folder's files (model.safetensors, model.json, metrics.json,
MODEL_CARD.md) and a SHA256SUMS as assets. It is safe to re-run: the
release is created as a draft, completed (assets that differ are
replaced, matching ones kept) and only then published. A tag that already
names another commit is an error. With --dry-run it prints every call it
would make and changes nothing.

The release URL goes to stdout.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			if tag == "" || sha == "" || assetsDir == "" {
				return exitcode.AsUsage(errors.New("--tag, --sha and --assets are all required"))
			}
			spec := github.ReleaseSpec{Tag: tag, SHA: sha, Prerelease: prerelease, MakeLatest: cfg.MakeLatest, Cleanup: cfg.Cleanup}
			if spec.Assets, err = github.AssetsFromDir(assetsDir); err != nil {
				return exitcode.AsUsage(err)
			}
			if bodyFile != "" {
				b, err := os.ReadFile(bodyFile)
				if err != nil {
					return exitcode.AsUsage(fmt.Errorf("--body: %w", err))
				}
				spec.Body = string(b)
			}
			var r releaser
			if cfg.DryRun {
				r = github.Dry{W: a.stdout, Repository: a.ghRepository(cfg)}
			} else if r, err = a.ghClient(cfg); err != nil {
				return err
			}
			rel, err := r.Publish(cmd.Context(), spec)
			if err != nil {
				return err
			}
			if !cfg.DryRun {
				fmt.Fprintln(a.stdout, rel.URL)
			}
			return nil
		},
	}
	fl.Bind(cmd.Flags(), "config", "dry-run", "make-latest", "cleanup", "repository", "github-token", "github-api-url")
	f := cmd.Flags()
	f.StringVar(&tag, "tag", "", "release tag, e.g. v1.2.0 (from the version command)")
	f.StringVar(&sha, "sha", "", "full commit SHA the tag is created at (default in Actions: $GITHUB_SHA)")
	f.StringVar(&assetsDir, "assets", "", "model folder whose files are attached")
	f.StringVar(&bodyFile, "body", "", "markdown file with the release notes")
	f.BoolVar(&prerelease, "prerelease", false, "mark the release as a pre-release (never latest)")
	return cmd
}

// ghRepository is --repository, else GITHUB_REPOSITORY.
func (a *app) ghRepository(cfg config.Config) string {
	if cfg.Repository != "" {
		return cfg.Repository
	}
	v, _ := a.lookupEnv("GITHUB_REPOSITORY")
	return v
}

// ghClient builds the GitHub client from the options, falling back to the
// Actions environment (GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL).
// The token is never logged.
func (a *app) ghClient(cfg config.Config) (*github.Client, error) {
	token := cfg.GitHubToken
	if token == "" {
		token, _ = a.lookupEnv("GITHUB_TOKEN")
	}
	api := cfg.GitHubAPI
	if v, ok := a.lookupEnv("GITHUB_API_URL"); ok && v != "" && api == config.Default().GitHubAPI {
		api = v
	}
	c, err := github.New(token, api, a.ghRepository(cfg), github.WithLogger(a.log))
	if err != nil {
		return nil, exitcode.AsUsage(err)
	}
	return c, nil
}
