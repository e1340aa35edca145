package github

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// The sticky comment's first line is a hidden marker naming the model and
// the head commit it reports on:
//
//	<!-- model-release:comment model=<name> sha=<40hex> -->
var markerRe = regexp.MustCompile(`^<!-- model-release:comment model=(\S+) sha=([0-9a-f]{40}) -->`)

// Marker renders the marker line for model and sha.
func Marker(model, sha string) string {
	return fmt.Sprintf("<!-- model-release:comment model=%s sha=%s -->", model, sha)
}

// ParseMarker reads the marker from the first line of body.
func ParseMarker(body string) (model, sha string, ok bool) {
	first, _, _ := strings.Cut(body, "\n")
	m := markerRe.FindStringSubmatch(strings.TrimSpace(first))
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// CommentSpec is the sticky comment to post.
type CommentSpec struct {
	PR   int
	Body string // starts with the marker line (see Marker)
}

// Outcome says what Comment did.
type Outcome string

// Comment outcomes. The Skipped ones are not failures: the caller writes
// the job summary instead.
const (
	Created         Outcome = "created"
	Updated         Outcome = "updated"
	Unchanged       Outcome = "unchanged"
	SkippedOlder    Outcome = "skipped-older-commit" // the comment already reports a newer head commit
	SkippedReadOnly Outcome = "skipped-read-only"    // the token may not write (a pull request from a fork)
)

// Skipped is true for outcomes that wrote nothing on purpose.
func (o Outcome) Skipped() bool { return o == SkippedOlder || o == SkippedReadOnly }

// CommentResult is the outcome and the comment it concerns.
type CommentResult struct {
	Outcome Outcome
	ID      int64
	URL     string
	Reason  string
}

// actionsBot authors what the GitHub Actions token writes; /user is
// forbidden to that token, so it stands in for the token's own login.
const actionsBot = "github-actions[bot]"

// Login returns the login of the token's user, or github-actions[bot] when
// the token may not read /user (the Actions GITHUB_TOKEN).
func (c *Client) Login(ctx context.Context) (string, error) {
	u, _, err := c.gh.Users.Get(ctx, "")
	if isForbidden(err) {
		return actionsBot, nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the token's user: %w", err)
	}
	return u.GetLogin(), nil
}

// Comment creates or updates the sticky comment on spec.PR. It finds the
// comment by its marker (same model, written by the token's user), keeps the
// oldest and deletes any duplicates, and never replaces a report on a newer
// head commit with one on an older commit.
//
// Commit order: the pull request's current head SHA is the authority. A
// report on the head always wins; a comment already on the head is never
// replaced by a report on another commit; when neither is the head (a
// force-push), the compare API decides and a report that is "behind" the
// existing one is skipped.
//
// A token that may not write (403 "Resource not accessible by integration",
// as for a pull request from a fork) yields SkippedReadOnly, not an error.
func (c *Client) Comment(ctx context.Context, spec CommentSpec) (CommentResult, error) {
	model, sha, ok := ParseMarker(spec.Body)
	if !ok {
		return CommentResult{}, fmt.Errorf("comment body does not start with the model-release marker line %q", Marker("<model>", "<sha>"))
	}
	if spec.PR <= 0 {
		return CommentResult{}, fmt.Errorf("pull request number %d is not positive: give --pr", spec.PR)
	}
	login, err := c.Login(ctx)
	if err != nil {
		return CommentResult{}, err
	}
	all, err := listAll(ctx, func(opt gh.ListOptions) ([]*gh.IssueComment, *gh.Response, error) {
		return c.gh.Issues.ListComments(ctx, c.owner, c.repo, spec.PR, &gh.IssueListCommentsOptions{ListOptions: opt})
	})
	if err != nil {
		return CommentResult{}, fmt.Errorf("listing comments of pull request #%d: %w", spec.PR, err)
	}
	var ours []*gh.IssueComment
	for _, cm := range all {
		if m, _, ok := ParseMarker(cm.GetBody()); ok && m == model && strings.EqualFold(cm.GetUser().GetLogin(), login) {
			ours = append(ours, cm)
		}
	}
	sort.Slice(ours, func(i, j int) bool { return ours[i].GetID() < ours[j].GetID() })

	readOnly := func(err error) (CommentResult, error) {
		c.log.Warn("the token cannot write to the pull request (from a fork?); skipping the comment", "pr", spec.PR, "error", err)
		return CommentResult{Outcome: SkippedReadOnly, Reason: err.Error()}, nil
	}
	if len(ours) == 0 {
		cm, _, err := c.gh.Issues.CreateComment(ctx, c.owner, c.repo, spec.PR, &gh.IssueComment{Body: gh.String(spec.Body)})
		if isForbidden(err) {
			return readOnly(err)
		}
		if err != nil {
			return CommentResult{}, fmt.Errorf("creating the comment on pull request #%d: %w", spec.PR, err)
		}
		return CommentResult{Outcome: Created, ID: cm.GetID(), URL: cm.GetHTMLURL()}, nil
	}
	keep := ours[0]
	for _, dup := range ours[1:] {
		if _, err := c.gh.Issues.DeleteComment(ctx, c.owner, c.repo, dup.GetID()); err != nil && !isNotFound(err) {
			if isForbidden(err) {
				return readOnly(err)
			}
			return CommentResult{}, fmt.Errorf("deleting duplicate comment %d: %w", dup.GetID(), err)
		}
	}
	res := CommentResult{ID: keep.GetID(), URL: keep.GetHTMLURL()}
	if _, oldSHA, _ := ParseMarker(keep.GetBody()); oldSHA != sha {
		newer, why, err := c.isNewer(ctx, spec.PR, oldSHA, sha)
		if err != nil {
			return CommentResult{}, err
		}
		if !newer {
			c.log.Info("not replacing the comment: it reports a newer commit", "pr", spec.PR, "reason", why)
			res.Outcome, res.Reason = SkippedOlder, why
			return res, nil
		}
	}
	if keep.GetBody() == spec.Body {
		res.Outcome = Unchanged
		return res, nil
	}
	if _, _, err := c.gh.Issues.EditComment(ctx, c.owner, c.repo, keep.GetID(), &gh.IssueComment{Body: gh.String(spec.Body)}); err != nil {
		if isForbidden(err) {
			return readOnly(err)
		}
		return CommentResult{}, fmt.Errorf("updating comment %d on pull request #%d: %w", keep.GetID(), spec.PR, err)
	}
	res.Outcome = Updated
	return res, nil
}

// isNewer says whether a report on newSHA may replace one on oldSHA.
func (c *Client) isNewer(ctx context.Context, pr int, oldSHA, newSHA string) (bool, string, error) {
	p, _, err := c.gh.PullRequests.Get(ctx, c.owner, c.repo, pr)
	if err != nil {
		return false, "", fmt.Errorf("reading pull request #%d for its head commit: %w", pr, err)
	}
	head := p.GetHead().GetSHA()
	switch head {
	case newSHA:
		return true, "report is on the pull request's head", nil
	case oldSHA:
		return false, fmt.Sprintf("the comment already reports the head %s; this report is on %s", short(oldSHA), short(newSHA)), nil
	}
	cmp, _, err := c.gh.Repositories.CompareCommits(ctx, c.owner, c.repo, oldSHA, newSHA, nil)
	if isNotFound(err) {
		return true, "old commit no longer exists", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("comparing commits %s...%s: %w", short(oldSHA), short(newSHA), err)
	}
	if cmp.GetStatus() == "behind" {
		return false, fmt.Sprintf("%s is behind %s, which the comment reports", short(newSHA), short(oldSHA)), nil
	}
	return true, "compare: " + cmp.GetStatus(), nil
}
