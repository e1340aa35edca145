package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/exitcode"
)

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "model-release",
		Short: "Train, gate, version, package and announce a CIFAR-10 model like software",
		Long: `model-release trains a CIFAR-10 classifier, gates it against an accuracy
floor and the last release, cuts a semver GitHub Release with the weights,
pushes a runnable OCI image, and reports on the pull request.

It is the entrypoint of the model-release GitHub Action and the CLI for
local dry runs. Every option also reads from MODEL_RELEASE_<NAME> and from
.github/model-release.yml.

Exit codes: 0 ok, 1 error, 2 usage error, 3 gate failed.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exitcode.AsUsage(fmt.Errorf("%w (see %s --help)", err, c.CommandPath()))
	})
	root.AddCommand(
		newVersionCmd(a),
		newRunCmd(a),
		newActionCmd(a),
		newServeCmd(a),
		newDataCmd(a),
		newPushCmd(a),
		newReleaseCmd(a), newCommentCmd(a), newStatusCmd(a),
		newTrainCmd(a), newEvaluateCmd(a), newPredictCmd(a),
		newGateCmd(a), newReportCmd(a),
		newPromoteCmd(a), newRollbackCmd(a), newHistoryCmd(a), newPruneCmd(a),
		// Subcommands are added here, one constructor each.
	)
	return root
}

// loadConfig turns the flags of a command, the environment and the YAML
// file into a validated Config. Problems with them are usage errors.
func (a *app) loadConfig(fl *config.Flags) (config.Config, error) {
	cfg, err := fl.Load(a.lookupEnv)
	if err != nil {
		return cfg, exitcode.AsUsage(err)
	}
	return cfg, nil
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return exitcode.AsUsage(fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args))
	}
	return nil
}
