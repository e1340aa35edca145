// Package event reads the GitHub Actions event payload (GITHUB_EVENT_PATH)
// into the few facts the pipeline needs: what triggered the run, which
// commit, which pull request, whether it comes from a fork.
//
// Parsing is strict for the fields a mode depends on: a payload that lacks
// them is an error naming the file and the field, not a run that silently
// does the wrong thing.
package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Kinds of event the pipeline reacts to.
const (
	PullRequest      = "pull_request"
	Push             = "push"
	WorkflowDispatch = "workflow_dispatch"
	// Local is a run outside GitHub Actions with no event file.
	Local = "local"
)

// Event is the part of a payload model-release uses.
type Event struct {
	Name string // GITHUB_EVENT_NAME, or Local
	Path string // file it was read from, for messages

	Repository    string // owner/name
	DefaultBranch string

	// Ref is the full ref (refs/heads/main, refs/tags/v1.2.3); SHA the commit.
	Ref string
	SHA string

	// Pull request events.
	PRNumber int
	PRAction string // opened, synchronize, ...
	HeadRepo string // owner/name of the head repository
	BaseRef  string
	Labels   []string

	// Commits are the messages of the pushed commits, oldest first (push
	// events), for conventional-commit version bumps.
	Commits []string

	// workflow_dispatch inputs, as strings.
	Inputs map[string]string
}

// IsFork reports whether a pull request comes from another repository:
// its token is read-only, so nothing can be written back.
func (e *Event) IsFork() bool {
	return e.Name == PullRequest && e.HeadRepo != "" && !strings.EqualFold(e.HeadRepo, e.Repository)
}

// Branch is the branch name of a branch ref, or "".
func (e *Event) Branch() string {
	if b, ok := strings.CutPrefix(e.Ref, "refs/heads/"); ok {
		return b
	}
	return ""
}

// Tag is the tag name of a tag ref, or "".
func (e *Event) Tag() string {
	if t, ok := strings.CutPrefix(e.Ref, "refs/tags/"); ok {
		return t
	}
	return ""
}

// OnDefaultBranch reports whether the ref is the repository's default branch.
func (e *Event) OnDefaultBranch() bool {
	b := e.Branch()
	return b != "" && e.DefaultBranch != "" && b == e.DefaultBranch
}

// Load reads the payload at path for the named event. sha and ref are
// GITHUB_SHA and GITHUB_REF, used where the payload does not carry them.
func Load(name, path, sha, ref string) (*Event, error) {
	if name == "" {
		return nil, errors.New("GITHUB_EVENT_NAME is empty: set it to pull_request, push or workflow_dispatch, or run outside Actions without GITHUB_EVENT_PATH")
	}
	if path == "" {
		return nil, fmt.Errorf("event %q: GITHUB_EVENT_PATH is empty: it must name the event payload file", name)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading event payload for %q: %w", name, err)
	}
	return Parse(name, path, b, sha, ref)
}

type payload struct {
	Action     string         `json:"action"`
	Number     *int           `json:"number"`
	Ref        *string        `json:"ref"`
	After      *string        `json:"after"`
	Deleted    bool           `json:"deleted"`
	Inputs     map[string]any `json:"inputs"`
	Repository *repository    `json:"repository"`
	PR         *pullRequest   `json:"pull_request"`
	Commits    []commit       `json:"commits"`
	HeadCommit *commit        `json:"head_commit"`
}

type commit struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

type repository struct {
	FullName      string `json:"full_name"`
	DefaultBranch string `json:"default_branch"`
}

type pullRequest struct {
	Number int `json:"number"`
	Head   *struct {
		SHA  string      `json:"sha"`
		Ref  string      `json:"ref"`
		Repo *repository `json:"repo"`
	} `json:"head"`
	Base *struct {
		Ref string `json:"ref"`
	} `json:"base"`
	Labels []struct {
		Name string `json:"name"`
	} `json:"labels"`
}

// Parse decodes a payload; path is only used in error messages.
func Parse(name, path string, b []byte, sha, ref string) (*Event, error) {
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("event payload %s is not valid JSON: %w", path, err)
	}
	missing := func(field string) error {
		return fmt.Errorf("event payload %s (%s): field %q is missing or empty", path, name, field)
	}
	if p.Repository == nil || p.Repository.FullName == "" {
		return nil, missing("repository.full_name")
	}
	e := &Event{
		Name:          name,
		Path:          path,
		Repository:    p.Repository.FullName,
		DefaultBranch: p.Repository.DefaultBranch,
		Ref:           ref,
		SHA:           sha,
	}
	switch name {
	case PullRequest:
		if p.PR == nil {
			return nil, missing("pull_request")
		}
		e.PRAction = p.Action
		e.PRNumber = p.PR.Number
		if p.Number != nil && *p.Number != 0 {
			e.PRNumber = *p.Number
		}
		if e.PRNumber <= 0 {
			return nil, missing("pull_request.number")
		}
		if p.PR.Head == nil || p.PR.Head.SHA == "" {
			return nil, missing("pull_request.head.sha")
		}
		// The head SHA, not GITHUB_SHA (a merge commit), is what the
		// status check and the comment are about.
		e.SHA = p.PR.Head.SHA
		if p.PR.Head.Repo != nil {
			e.HeadRepo = p.PR.Head.Repo.FullName
		} else {
			// A deleted fork: treat it as foreign, it cannot be trusted.
			e.HeadRepo = "(deleted fork)"
		}
		if p.PR.Base != nil {
			e.BaseRef = p.PR.Base.Ref
		}
		for _, l := range p.PR.Labels {
			e.Labels = append(e.Labels, l.Name)
		}
	case Push:
		if p.Ref == nil || *p.Ref == "" {
			return nil, missing("ref")
		}
		e.Ref = *p.Ref
		if p.Deleted {
			return nil, fmt.Errorf("event payload %s (push): ref %s was deleted; there is nothing to build", path, e.Ref)
		}
		if p.After == nil || *p.After == "" || strings.Trim(*p.After, "0") == "" {
			return nil, missing("after")
		}
		e.SHA = *p.After
		for _, c := range p.Commits {
			e.Commits = append(e.Commits, c.Message)
		}
		if len(e.Commits) == 0 && p.HeadCommit != nil && p.HeadCommit.Message != "" {
			e.Commits = []string{p.HeadCommit.Message}
		}
		if e.Branch() == "" && e.Tag() == "" {
			return nil, fmt.Errorf("event payload %s (push): field \"ref\" is %q, want refs/heads/... or refs/tags/...", path, e.Ref)
		}
		if e.Branch() != "" && e.DefaultBranch == "" {
			return nil, missing("repository.default_branch")
		}
	case WorkflowDispatch:
		if p.Ref == nil || *p.Ref == "" {
			return nil, missing("ref")
		}
		e.Ref = *p.Ref
		if e.SHA == "" {
			return nil, fmt.Errorf("event payload %s (workflow_dispatch): GITHUB_SHA is empty; it names the commit to build", path)
		}
		e.Inputs = map[string]string{}
		for k, v := range p.Inputs {
			switch v := v.(type) {
			case string:
				e.Inputs[k] = v
			case bool, float64:
				e.Inputs[k] = fmt.Sprint(v)
			default:
				return nil, fmt.Errorf("event payload %s (workflow_dispatch): field \"inputs.%s\" is %T, want a string, number or boolean", path, k, v)
			}
		}
	default:
		return nil, fmt.Errorf("event %q (payload %s) is not supported: trigger model-release on pull_request, push or workflow_dispatch", name, path)
	}
	return e, nil
}

// Guess names the event a payload most likely belongs to, for local runs
// with --event and no event name: pull_request when it has a pull_request,
// workflow_dispatch when it has inputs, push otherwise.
func Guess(b []byte) string {
	var p map[string]json.RawMessage
	if json.Unmarshal(b, &p) != nil {
		return Push // Parse reports the JSON error with the file name
	}
	if _, ok := p["pull_request"]; ok {
		return PullRequest
	}
	if _, ok := p["inputs"]; ok {
		return WorkflowDispatch
	}
	return Push
}
