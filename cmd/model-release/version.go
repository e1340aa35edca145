package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func buildVersion() (ver, commit string) {
	ver, commit = version, "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		if ver == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			ver = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
	}
	return ver, commit
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of model-release",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ver, commit := buildVersion()
			fmt.Fprintf(a.stdout, "model-release %s (commit %s, %s, %s/%s)\n", ver, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
