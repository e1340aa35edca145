package main

import (
	"github.com/spf13/cobra"

	"github.com/model-release/model-release/internal/action"
	"github.com/model-release/model-release/internal/exitcode"
)

// newActionCmd is the Docker action's entrypoint: inputs come from INPUT_*
// variables, the event from GITHUB_EVENT_PATH, results go to GITHUB_OUTPUT
// and GITHUB_STEP_SUMMARY.
func newActionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    "action",
		Short:  "Run as the GitHub Action (reads INPUT_* and the event payload)",
		Args:   noArgs,
		Hidden: false,
		RunE: func(cmd *cobra.Command, args []string) error {
			getenv := func(k string) string { v, _ := a.lookupEnv(k); return v }
			act := action.New(getenv, a.stdout) // masks the token before anything is logged
			cfg, err := act.Config()
			if err != nil {
				return exitcode.AsUsage(err)
			}
			ev, err := act.Event()
			if err != nil {
				return exitcode.AsUsage(err)
			}
			if cfg.DryRun {
				act.Noticef("dry-run is true: nothing will be published")
			}
			return a.runPipeline(cmd.Context(), cfg, ev, pipelineIO{observer: act, summary: act, outputs: act})
		},
	}
}
