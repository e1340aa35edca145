package main

import (
	"github.com/spf13/cobra"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/promote"
)

func newHistoryCmd(a *app) *cobra.Command {
	var fl config.Flags
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "history [--channel C] [--json]",
		Short: "Show released versions with their checks and channels, and every channel move",
		Long: `history lists the released versions, newest first, with date, accuracy,
gate and deployment-check verdicts, image digest and the channels pointing
at them, then the channel moves (promotions and rollbacks: who, when, from,
to, why). --channel limits both to one channel; --json prints one JSON
document instead.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			if cfg.GitHubToken == "" {
				cfg.GitHubToken = a.env("GITHUB_TOKEN")
			}
			gh, err := a.ghClient(cfg)
			if err != nil {
				return err
			}
			h, err := promote.ReleaseStore{GitHub: gh}.Load(cmd.Context())
			if err != nil {
				return err
			}
			v, err := promote.BuildView(cmd.Context(), gh, cfg.TagPrefix, h, cfg.Channel, limit)
			if err != nil {
				return err
			}
			if asJSON {
				return v.WriteJSON(a.stdout)
			}
			return v.WriteTable(a.stdout)
		},
	}
	fl.Bind(cmd.Flags(), "config", "repository", "github-token", "github-api-url", "tag-prefix", "channel")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVar(&limit, "limit", 30, "newest versions shown (0: all)")
	return cmd
}
