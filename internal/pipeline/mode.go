package pipeline

import (
	"fmt"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/event"
)

// Mode is what a run publishes.
type Mode string

const (
	// ModePR trains and gates a pull request, then comments and sets the
	// status (and pushes a pr-N image when push is on).
	ModePR Mode = "pull-request"
	// ModeCheck trains and gates, and publishes nothing.
	ModeCheck Mode = "check"
	// ModeRelease trains, gates, picks the next version, releases and pushes.
	ModeRelease Mode = "release"
	// ModeTag releases the version of a pushed tag.
	ModeTag Mode = "tag"
)

// Selection is the mode, or another command, chosen for a run.
type Selection struct {
	Mode    Mode
	Command string // promote, rollback or prune instead of a pipeline
	Reason  string // why, for the log
}

// Select picks what to do from the command option and the event. An
// explicit command wins; "run" (or nothing) follows the event.
func Select(cfg config.Config, ev *event.Event) (Selection, error) {
	cmd := cfg.Command
	if cmd == "" && ev != nil && ev.Name == event.WorkflowDispatch {
		cmd = ev.Inputs["command"]
	}
	switch cmd {
	case "promote", "rollback", "prune":
		return Selection{Command: cmd, Reason: "command " + cmd}, nil
	case "train":
		return Selection{Mode: ModeCheck, Reason: "command train: train and gate only"}, nil
	case "", "run":
	default:
		return Selection{}, fmt.Errorf("command %q is not one of run, train, promote, rollback, prune", cmd)
	}
	if ev == nil {
		return Selection{Mode: ModeRelease, Reason: "local run"}, nil
	}
	switch ev.Name {
	case event.Local:
		return Selection{Mode: ModeRelease, Reason: "local run"}, nil
	case event.PullRequest:
		return Selection{Mode: ModePR, Reason: fmt.Sprintf("pull request #%d", ev.PRNumber)}, nil
	case event.Push, event.WorkflowDispatch:
		if t := ev.Tag(); t != "" {
			return Selection{Mode: ModeTag, Reason: "tag " + t}, nil
		}
		if ev.Name == event.WorkflowDispatch {
			return Selection{Mode: ModeRelease, Reason: "workflow_dispatch on " + ev.Ref}, nil
		}
		if ev.OnDefaultBranch() {
			return Selection{Mode: ModeRelease, Reason: "push to default branch " + ev.Branch()}, nil
		}
		return Selection{Mode: ModeCheck, Reason: fmt.Sprintf("push to %s, not the default branch %s", ev.Branch(), ev.DefaultBranch)}, nil
	}
	return Selection{}, fmt.Errorf("event %q is not supported: use pull_request, push or workflow_dispatch", ev.Name)
}
