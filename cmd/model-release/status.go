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

// statusPoster reports the gate: the real client or its dry stand-in.
type statusPoster interface {
	PostStatus(ctx context.Context, spec github.StatusSpec) (github.StatusResult, error)
}

func newStatusCmd(a *app) *cobra.Command {
	var fl config.Flags
	var spec github.StatusSpec
	var summaryFile string
	cmd := &cobra.Command{
		Use:   "status --sha S --state pending|success|failure",
		Short: "Report the gate on a commit as the check run \"model-release / gate\"",
		Long: `status creates or updates the check run "model-release / gate" on --sha:
pending (in progress) when training starts, success or failure at the end,
always the same check run. A token that may not write checks gets a commit
status "model-release/gate" instead.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			if spec.SHA == "" {
				spec.SHA, _ = a.lookupEnv("GITHUB_SHA")
			}
			if spec.SHA == "" || spec.State == "" {
				return exitcode.AsUsage(errors.New("--sha (or GITHUB_SHA) and --state are required"))
			}
			if summaryFile != "" {
				b, err := os.ReadFile(summaryFile)
				if err != nil {
					return exitcode.AsUsage(fmt.Errorf("--summary: %w", err))
				}
				spec.Summary = string(b)
			}
			if spec.URL == "" {
				spec.URL = a.runURL()
			}
			var p statusPoster
			if cfg.DryRun {
				p = github.Dry{W: a.stdout, Repository: a.ghRepository(cfg)}
			} else if p, err = a.ghClient(cfg); err != nil {
				return err
			}
			res, err := p.PostStatus(cmd.Context(), spec)
			if err != nil {
				return err
			}
			if !cfg.DryRun {
				if res.Skipped {
					fmt.Fprintln(a.stdout, "skipped:", res.Reason)
				} else {
					fmt.Fprintln(a.stdout, res.Kind, res.ID)
				}
			}
			return nil
		},
	}
	fl.Bind(cmd.Flags(), "config", "dry-run", "repository", "github-token", "github-api-url")
	f := cmd.Flags()
	f.StringVar(&spec.SHA, "sha", "", "full commit SHA (default: GITHUB_SHA)")
	f.StringVar(&spec.State, "state", "", "pending, success or failure")
	f.StringVar(&spec.Title, "title", "", "one-line title (also the commit status description)")
	f.StringVar(&summaryFile, "summary", "", "markdown file shown in the check run")
	f.StringVar(&spec.URL, "url", "", "link to the workflow run (default: from GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID)")
	return cmd
}

// runURL links to the current workflow run, "" outside Actions.
func (a *app) runURL() string {
	server, _ := a.lookupEnv("GITHUB_SERVER_URL")
	repo, _ := a.lookupEnv("GITHUB_REPOSITORY")
	run, _ := a.lookupEnv("GITHUB_RUN_ID")
	if server == "" || repo == "" || run == "" {
		return ""
	}
	return server + "/" + repo + "/actions/runs/" + run
}
