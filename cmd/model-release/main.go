// Command model-release trains, gates, versions, packages and announces a
// CIFAR-10 model. The same binary is the GitHub Action's entrypoint
// (model-release action) and the CLI for local runs.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/model-release/model-release/internal/exitcode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	if err != nil && !isSilent(err) {
		fmt.Fprintln(os.Stderr, "model-release:", err)
	}
	os.Exit(exitcode.For(err))
}

// app carries what every subcommand needs, injected so tests can run the
// whole CLI in-process.
type app struct {
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
	log            *slog.Logger
}

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) error {
	a := &app{
		stdout:    stdout,
		stderr:    stderr,
		lookupEnv: lookupEnv,
		log:       newLogger(stderr, lookupEnv),
	}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return classifyCobraError(root.ExecuteContext(ctx))
}

// cobraUsagePrefixes start the messages of cobra's own argument and flag
// checks, which cobra does not type; they are usage errors (exit 2).
var cobraUsagePrefixes = []string{
	"unknown command", "accepts ", "requires at least", "requires at most",
	"required flag(s)", "invalid argument", "unknown flag", "unknown shorthand flag",
	"flag needs an argument", "if any flags in the group",
}

func classifyCobraError(err error) error {
	if err == nil || exitcode.For(err) != exitcode.Error {
		return err
	}
	for _, p := range cobraUsagePrefixes {
		if strings.HasPrefix(err.Error(), p) {
			return exitcode.AsUsage(err)
		}
	}
	return err
}

func newLogger(w io.Writer, lookupEnv func(string) (string, bool)) *slog.Logger {
	level := slog.LevelInfo
	if v, _ := lookupEnv("MODEL_RELEASE_DEBUG"); v == "true" || v == "1" {
		level = slog.LevelDebug
	}
	if v, _ := lookupEnv("RUNNER_DEBUG"); v == "1" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// silentError has already been reported to the user; main only sets the
// exit code.
type silentError struct{ err error }

func (e *silentError) Error() string { return e.err.Error() }
func (e *silentError) Unwrap() error { return e.err }

func isSilent(err error) bool {
	_, ok := err.(*silentError)
	return ok
}
