// Package github is model-release's one door to the GitHub REST API: a
// client with retries and rate-limit handling, releases that are safe to
// re-run, the sticky pull-request comment and the gate status check. It is
// the only package that imports go-github.
package github

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// DefaultAPIURL is github.com's API.
const DefaultAPIURL = "https://api.github.com"

// Client talks to one repository.
type Client struct {
	gh          *gh.Client
	owner, repo string
	download    *http.Client // follows asset redirects, without the token
	log         *slog.Logger
}

type options struct {
	base       http.RoundTripper
	sleep      func(context.Context, time.Duration) error
	now        func() time.Time
	maxRetries int
	maxDelay   time.Duration
	log        *slog.Logger
}

// Option tunes New.
type Option func(*options)

// WithTransport sets the underlying transport (default http.DefaultTransport).
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.base = rt } }

// WithSleep replaces the wait between retries; tests pass a no-op.
func WithSleep(f func(context.Context, time.Duration) error) Option {
	return func(o *options) { o.sleep = f }
}

// WithClock replaces time.Now for rate-limit reset arithmetic.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithRetries bounds the retries of one request (default 5; 0 disables).
func WithRetries(n int) Option { return func(o *options) { o.maxRetries = n } }

// WithMaxWait caps one wait; a rate limit resetting later is returned as an
// error instead of waited out (default 5 minutes).
func WithMaxWait(d time.Duration) Option { return func(o *options) { o.maxDelay = d } }

// WithLogger receives retry notices (never the token).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// New builds a client for repository "owner/name" at apiURL (GITHUB_API_URL;
// "" means github.com). A GitHub Enterprise Server URL ending in /api/v3 gets
// the matching /api/uploads upload URL.
func New(token, apiURL, repository string, opts ...Option) (*Client, error) {
	o := options{
		base: http.DefaultTransport, sleep: sleepCtx, now: time.Now,
		maxRetries: 5, maxDelay: 5 * time.Minute, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, f := range opts {
		f(&o)
	}
	owner, repo, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, fmt.Errorf("repository %q is not of the form owner/name: set --repository or GITHUB_REPOSITORY", repository)
	}
	if token == "" {
		return nil, errors.New("no GitHub token: set the github-token input, --github-token or GITHUB_TOKEN")
	}
	rt := &retryTransport{
		next: o.base, maxRetries: o.maxRetries, baseDelay: time.Second, maxDelay: o.maxDelay,
		sleep: o.sleep, now: o.now,
		onRetry: func(req *http.Request, attempt int, wait time.Duration, why string) {
			o.log.Warn("retrying GitHub API call", "method", req.Method, "path", req.URL.Path, "attempt", attempt, "wait", wait, "reason", why)
		},
	}
	c := gh.NewClient(&http.Client{Transport: rt}).WithAuthToken(token)
	if apiURL != "" && strings.TrimSuffix(apiURL, "/") != DefaultAPIURL {
		base, upload, err := enterpriseURLs(apiURL)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(base.Path, "/api/v3/") {
			if c, err = c.WithEnterpriseURLs(base.String(), upload.String()); err != nil {
				return nil, fmt.Errorf("github-api-url %q: %w", apiURL, err)
			}
		} else {
			// A proxy or test server at a plain URL: use it as given.
			c.BaseURL, c.UploadURL = base, upload
		}
	}
	return &Client{
		gh: c, owner: owner, repo: repo, log: o.log,
		download: &http.Client{Transport: rt},
	}, nil
}

// enterpriseURLs derives the API and upload base URLs from GITHUB_API_URL:
// https://host/api/v3 -> https://host/api/uploads/; any other URL -> URL/uploads/.
func enterpriseURLs(apiURL string) (base, upload *url.URL, err error) {
	base, err = url.Parse(apiURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, nil, fmt.Errorf("github-api-url %q is not an http(s) URL such as https://ghe.example.com/api/v3", apiURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	u := *base
	if p, ok := strings.CutSuffix(base.Path, "/api/v3/"); ok {
		u.Path = p + "/api/uploads/"
	} else {
		u.Path = base.Path + "uploads/"
	}
	return base, &u, nil
}

// Repository returns "owner/name".
func (c *Client) Repository() string { return c.owner + "/" + c.repo }

// statusOf is the HTTP status of a go-github error, 0 when there is none.
func statusOf(err error) int {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	var rl *gh.RateLimitError
	if errors.As(err, &rl) && rl.Response != nil {
		return rl.Response.StatusCode
	}
	var ab *gh.AbuseRateLimitError
	if errors.As(err, &ab) && ab.Response != nil {
		return ab.Response.StatusCode
	}
	return 0
}

func isNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// isForbidden is true for a plain 403 (not a rate limit): a token that may
// not do this, such as a fork's read-only GITHUB_TOKEN.
func isForbidden(err error) bool {
	var rl *gh.RateLimitError
	var ab *gh.AbuseRateLimitError
	if errors.As(err, &rl) || errors.As(err, &ab) {
		return false
	}
	return statusOf(err) == http.StatusForbidden
}

func isAlreadyExists(err error) bool {
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil || er.Response.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	for _, e := range er.Errors {
		if e.Code == "already_exists" {
			return true
		}
	}
	return false
}

// listAll pages through a list endpoint with 100 items a page.
func listAll[T any](ctx context.Context, fetch func(opt gh.ListOptions) ([]T, *gh.Response, error)) ([]T, error) {
	var out []T
	opt := gh.ListOptions{PerPage: 100}
	for {
		items, resp, err := fetch(opt)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if resp == nil || resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// ListTags returns every tag name with its commit SHA.
func (c *Client) ListTags(ctx context.Context) (map[string]string, error) {
	tags, err := listAll(ctx, func(opt gh.ListOptions) ([]*gh.RepositoryTag, *gh.Response, error) {
		return c.gh.Repositories.ListTags(ctx, c.owner, c.repo, &opt)
	})
	if err != nil {
		return nil, fmt.Errorf("listing tags of %s: %w", c.Repository(), err)
	}
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[t.GetName()] = t.GetCommit().GetSHA()
	}
	return out, nil
}

// TagCommit returns the commit a tag points at; ok is false when the tag
// does not exist. Annotated tags are followed to their commit.
func (c *Client) TagCommit(ctx context.Context, tag string) (sha string, ok bool, err error) {
	ref, _, err := c.gh.Git.GetRef(ctx, c.owner, c.repo, "tags/"+tag)
	if isNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("looking up tag %s: %w", tag, err)
	}
	obj := ref.GetObject()
	if obj.GetType() == "tag" {
		t, _, err := c.gh.Git.GetTag(ctx, c.owner, c.repo, obj.GetSHA())
		if err != nil {
			return "", false, fmt.Errorf("reading annotated tag %s: %w", tag, err)
		}
		return t.GetObject().GetSHA(), true, nil
	}
	return obj.GetSHA(), true, nil
}

// PullRequestInfo is what versioning and the comment guard need of a PR.
type PullRequestInfo struct {
	Number  int
	HeadSHA string
	Labels  []string
	Commits []string // commit messages, oldest first
}

// PullRequest reads a pull request's head, labels and commit messages.
func (c *Client) PullRequest(ctx context.Context, number int) (PullRequestInfo, error) {
	pr, _, err := c.gh.PullRequests.Get(ctx, c.owner, c.repo, number)
	if err != nil {
		return PullRequestInfo{}, fmt.Errorf("reading pull request #%d: %w", number, err)
	}
	info := PullRequestInfo{Number: number, HeadSHA: pr.GetHead().GetSHA()}
	labels, err := listAll(ctx, func(opt gh.ListOptions) ([]*gh.Label, *gh.Response, error) {
		return c.gh.Issues.ListLabelsByIssue(ctx, c.owner, c.repo, number, &opt)
	})
	if err != nil {
		return info, fmt.Errorf("listing labels of pull request #%d: %w", number, err)
	}
	for _, l := range labels {
		info.Labels = append(info.Labels, l.GetName())
	}
	commits, err := listAll(ctx, func(opt gh.ListOptions) ([]*gh.RepositoryCommit, *gh.Response, error) {
		return c.gh.PullRequests.ListCommits(ctx, c.owner, c.repo, number, &opt)
	})
	if err != nil {
		return info, fmt.Errorf("listing commits of pull request #%d: %w", number, err)
	}
	for _, cm := range commits {
		info.Commits = append(info.Commits, cm.GetCommit().GetMessage())
	}
	return info, nil
}
