// Package action is the GitHub Actions front end: it reads the action's
// inputs into a config.Config, masks the token, reads the event, and gives
// the pipeline log groups, a job summary and step outputs. It is the only
// package (with cmd) that imports go-githubactions.
package action

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/event"
)

// InputNames are the inputs declared in action.yml, each an option of
// config.Config with the same name. A test keeps the two lists equal.
var InputNames = []string{
	"github-token", "command", "data", "model", "architecture", "epochs", "batch-size",
	"learning-rate", "seed", "device", "min-accuracy", "max-regression", "min-class-accuracy",
	"baseline", "bump", "version", "tag-prefix", "image", "registry", "push", "release",
	"comment", "status-check", "dry-run", "config",
	// workflow_dispatch commands promote, rollback and prune.
	"channels", "to", "channel", "reason", "force", "keep-days", "keep-last", "apply", "prune-releases",
}

// Action wraps go-githubactions with an injected environment.
type Action struct {
	gh     *githubactions.Action
	getenv func(string) string
}

// New returns an Action reading the environment through getenv and writing
// workflow commands to w (the step's stdout).
func New(getenv func(string) string, w io.Writer) *Action {
	return &Action{
		gh:     githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(w)),
		getenv: getenv,
	}
}

func (a *Action) lookupEnv(k string) (string, bool) {
	v := a.getenv(k)
	return v, v != ""
}

// Config builds the run's configuration: defaults, the YAML file, the
// MODEL_RELEASE_* environment, the inputs, then what the runner tells
// (repository, API URL). The token is masked before anything else runs.
// Every error names the input.
func (a *Action) Config() (config.Config, error) {
	tok := a.gh.GetInput("github-token")
	if tok == "" {
		tok = a.getenv(config.EnvPrefix + "GITHUB_TOKEN")
	}
	if tok != "" {
		a.gh.AddMask(tok)
	}
	// Every other secret option (the registry password) is masked too,
	// wherever it comes from, before anything can log it.
	for _, o := range config.Options() {
		if !o.Secret {
			continue
		}
		vals := []string{a.getenv(o.EnvName())}
		if slices.Contains(InputNames, o.Name) {
			vals = append(vals, a.gh.GetInput(o.Name))
		}
		for _, v := range vals {
			if v != "" && v != tok {
				a.gh.AddMask(v)
			}
		}
	}

	c := config.Default()
	file, required := config.DefaultFile, false
	if v := a.gh.GetInput("config"); v != "" {
		file, required = v, true
	} else if v := a.getenv(config.EnvPrefix + "CONFIG"); v != "" {
		file, required = v, true
	}
	if err := c.ApplyFile(file, required); err != nil {
		return c, fmt.Errorf("input \"config\": %w", err)
	}
	if err := c.ApplyEnv(a.lookupEnv); err != nil {
		return c, err
	}
	var errs []error
	for _, name := range InputNames {
		// An empty input was not given: the layers below it decide.
		if v := a.gh.GetInput(name); v != "" {
			if err := c.Set(name, v, "input"); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if c.Repository == "" {
		c.Repository = a.getenv("GITHUB_REPOSITORY")
	}
	if v := a.getenv("GITHUB_API_URL"); v != "" && c.GitHubAPI == config.Default().GitHubAPI {
		c.GitHubAPI = v
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("inputs: %w", err)
	}
	return c, nil
}

// Event reads the payload that triggered the run (GITHUB_EVENT_NAME and
// GITHUB_EVENT_PATH). Outside Actions it is a local event.
func (a *Action) Event() (*event.Event, error) {
	name := a.getenv("GITHUB_EVENT_NAME")
	if name == "" && a.getenv("GITHUB_EVENT_PATH") == "" {
		return &event.Event{Name: event.Local, SHA: a.getenv("GITHUB_SHA")}, nil
	}
	return event.Load(name, a.getenv("GITHUB_EVENT_PATH"), a.getenv("GITHUB_SHA"), a.getenv("GITHUB_REF"))
}

// StageStarted opens a log group per stage.
func (a *Action) StageStarted(name string) { a.gh.Group(name) }

// StageDone closes the group, flagging a failed stage as an error
// annotation.
func (a *Action) StageDone(name string, err error, took time.Duration) {
	if err != nil {
		a.gh.Errorf("%s failed after %s: %s", name, took.Round(time.Millisecond), oneLine(err.Error()))
	}
	a.gh.EndGroup()
}

// WriteSummary appends markdown to the job summary file.
func (a *Action) WriteSummary(markdown string) (err error) {
	if a.getenv("GITHUB_STEP_SUMMARY") == "" {
		return errors.New("GITHUB_STEP_SUMMARY is not set")
	}
	defer recoverTo(&err, "writing the job summary")
	a.gh.AddStepSummary(markdown)
	return nil
}

// SetOutput sets a step output in the GITHUB_OUTPUT file.
func (a *Action) SetOutput(name, value string) (err error) {
	if a.getenv("GITHUB_OUTPUT") == "" {
		return errors.New("GITHUB_OUTPUT is not set")
	}
	defer recoverTo(&err, "setting output "+name)
	a.gh.SetOutput(name, value)
	return nil
}

// Noticef prints a notice annotation (e.g. why a run is a dry run).
func (a *Action) Noticef(format string, args ...any) { a.gh.Noticef(format, args...) }

// go-githubactions panics when a file command cannot be written; turn that
// into an error so the pipeline's Finally list carries on.
func recoverTo(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: %v", what, r)
	}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }
