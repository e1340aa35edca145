package github

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	gh "github.com/google/go-github/v60/github"
)

// The names the gate is reported under.
const (
	CheckName     = "model-release / gate"
	StatusContext = "model-release/gate"
)

// Limits GitHub puts on what it shows.
const (
	maxSummary     = 65535
	maxDescription = 140
)

// Gate states.
const (
	StatePending = "pending"
	StateSuccess = "success"
	StateFailure = "failure"
)

// StatusSpec is the gate verdict to report on a commit.
type StatusSpec struct {
	SHA     string
	State   string // pending, success or failure
	Title   string // one line, e.g. "accuracy 91.2% (+0.4)"; also the commit status description
	Summary string // markdown shown in the check run (truncated to 65,535 characters)
	URL     string // link to the workflow run
}

// StatusResult says how the verdict was posted.
type StatusResult struct {
	Kind    string // "check-run", "commit-status" or "" when skipped
	ID      int64
	Skipped bool // the token may write neither (a pull request from a fork)
	Reason  string
}

// PostStatus reports the gate on spec.SHA as the check run "model-release /
// gate", updating the one already there for this commit (pending, then the
// verdict). A token that may not write checks (403) falls back to a commit
// status "model-release/gate"; one that may write neither is skipped.
func (c *Client) PostStatus(ctx context.Context, spec StatusSpec) (StatusResult, error) {
	if !shaRe.MatchString(spec.SHA) {
		return StatusResult{}, fmt.Errorf("status commit %q is not a full 40-character lowercase SHA: give --sha", spec.SHA)
	}
	switch spec.State {
	case StatePending, StateSuccess, StateFailure:
	default:
		return StatusResult{}, fmt.Errorf("status state %q is not one of pending, success, failure", spec.State)
	}
	if spec.Title == "" {
		spec.Title = map[string]string{StatePending: "Training and evaluating", StateSuccess: "Gate passed", StateFailure: "Gate failed"}[spec.State]
	}
	res, err := c.postCheckRun(ctx, spec)
	if err == nil {
		return res, nil
	}
	if !isForbidden(err) {
		return StatusResult{}, err
	}
	c.log.Info("the token cannot write check runs; posting a commit status instead", "error", err)
	st := &gh.RepoStatus{
		State: gh.String(spec.State), Context: gh.String(StatusContext),
		Description: gh.String(truncate(firstLine(spec.Title), maxDescription, "…")),
	}
	if spec.URL != "" {
		st.TargetURL = gh.String(spec.URL)
	}
	out, _, err := c.gh.Repositories.CreateStatus(ctx, c.owner, c.repo, spec.SHA, st)
	if isForbidden(err) {
		c.log.Warn("the token can write neither check runs nor commit statuses (from a fork?); skipping the status", "error", err)
		return StatusResult{Skipped: true, Reason: err.Error()}, nil
	}
	if err != nil {
		return StatusResult{}, fmt.Errorf("posting commit status %s on %s: %w", StatusContext, short(spec.SHA), err)
	}
	return StatusResult{Kind: "commit-status", ID: out.GetID()}, nil
}

func (c *Client) postCheckRun(ctx context.Context, spec StatusSpec) (StatusResult, error) {
	runs, err := listAll(ctx, func(opt gh.ListOptions) ([]*gh.CheckRun, *gh.Response, error) {
		r, resp, err := c.gh.Checks.ListCheckRunsForRef(ctx, c.owner, c.repo, spec.SHA, &gh.ListCheckRunsOptions{CheckName: gh.String(CheckName), Filter: gh.String("all"), ListOptions: opt})
		if err != nil {
			return nil, resp, err
		}
		return r.CheckRuns, resp, nil
	})
	if err != nil {
		return StatusResult{}, fmt.Errorf("listing check runs on %s: %w", short(spec.SHA), err)
	}
	var existing *gh.CheckRun
	for _, r := range runs {
		if r.GetName() == CheckName && (existing == nil || r.GetID() > existing.GetID()) {
			existing = r
		}
	}
	status, conclusion := "in_progress", (*string)(nil)
	var completed *gh.Timestamp
	if spec.State != StatePending {
		status, conclusion = "completed", gh.String(spec.State)
		completed = &gh.Timestamp{Time: time.Now()}
	}
	output := &gh.CheckRunOutput{Title: gh.String(firstLine(spec.Title)), Summary: gh.String(truncate(spec.Summary, maxSummary, "\n\n… (truncated)"))}
	if spec.Summary == "" {
		output.Summary = gh.String(firstLine(spec.Title))
	}
	var details *string
	if spec.URL != "" {
		details = gh.String(spec.URL)
	}
	if existing != nil {
		run, _, err := c.gh.Checks.UpdateCheckRun(ctx, c.owner, c.repo, existing.GetID(), gh.UpdateCheckRunOptions{
			Name: CheckName, Status: gh.String(status), Conclusion: conclusion, CompletedAt: completed, Output: output, DetailsURL: details,
		})
		if err != nil {
			return StatusResult{}, fmt.Errorf("updating check run %q: %w", CheckName, err)
		}
		return StatusResult{Kind: "check-run", ID: run.GetID()}, nil
	}
	run, _, err := c.gh.Checks.CreateCheckRun(ctx, c.owner, c.repo, gh.CreateCheckRunOptions{
		Name: CheckName, HeadSHA: spec.SHA, Status: gh.String(status), Conclusion: conclusion, CompletedAt: completed, Output: output, DetailsURL: details,
	})
	if err != nil {
		return StatusResult{}, fmt.Errorf("creating check run %q: %w", CheckName, err)
	}
	return StatusResult{Kind: "check-run", ID: run.GetID()}, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// truncate cuts s to at most n characters (runes), ending with tail when cut.
func truncate(s string, n int, tail string) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	keep := n - utf8.RuneCountInString(tail)
	r := []rune(s)
	return string(r[:keep]) + tail
}
