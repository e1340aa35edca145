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

// commenter posts the sticky comment: the real client or its dry stand-in.
type commenter interface {
	Comment(ctx context.Context, spec github.CommentSpec) (github.CommentResult, error)
}

func newCommentCmd(a *app) *cobra.Command {
	var fl config.Flags
	var pr int
	var bodyFile string
	cmd := &cobra.Command{
		Use:   "comment --pr N --body FILE",
		Short: "Create or update the sticky model report on a pull request",
		Long: `comment posts FILE (a report whose first line is the model-release marker)
as the pull request's sticky comment: the one earlier comment for the same
model is updated in place, duplicates are deleted, and a report on an older
commit never replaces one on a newer commit. A read-only token (a pull
request from a fork) is a warning, not a failure.

The outcome (created, updated, unchanged, skipped-...) goes to stdout.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			if pr <= 0 || bodyFile == "" {
				return exitcode.AsUsage(errors.New("--pr (a positive number) and --body are required"))
			}
			b, err := os.ReadFile(bodyFile)
			if err != nil {
				return exitcode.AsUsage(fmt.Errorf("--body: %w", err))
			}
			var c commenter
			if cfg.DryRun {
				c = github.Dry{W: a.stdout, Repository: a.ghRepository(cfg)}
			} else if c, err = a.ghClient(cfg); err != nil {
				return err
			}
			res, err := c.Comment(cmd.Context(), github.CommentSpec{PR: pr, Body: string(b)})
			if err != nil {
				return err
			}
			if !cfg.DryRun {
				fmt.Fprintln(a.stdout, res.Outcome, res.URL)
			}
			return nil
		},
	}
	fl.Bind(cmd.Flags(), "config", "dry-run", "repository", "github-token", "github-api-url")
	cmd.Flags().IntVar(&pr, "pr", 0, "pull request number")
	cmd.Flags().StringVar(&bodyFile, "body", "", "markdown file with the report (first line: the model-release marker)")
	return cmd
}
