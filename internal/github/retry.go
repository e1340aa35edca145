package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryTransport retries a request that failed for a temporary reason:
// a network error, a 5xx, or a primary or secondary rate limit. It honours
// Retry-After and X-RateLimit-Reset, backs off exponentially otherwise, and
// gives up after maxRetries (then the last answer goes to the caller).
// Sleep and clock are injected so tests run instantly.
type retryTransport struct {
	next       http.RoundTripper
	maxRetries int
	baseDelay  time.Duration
	maxDelay   time.Duration // the longest single wait; a longer rate limit is returned, not waited out
	sleep      func(context.Context, time.Duration) error
	now        func() time.Time
	onRetry    func(req *http.Request, attempt int, wait time.Duration, why string)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("replaying request body of %s %s: %w", req.Method, req.URL.Path, err)
			}
			r = req.Clone(ctx)
			r.Body = body
		}
		resp, err := t.next.RoundTrip(r)
		if !replayable || attempt >= t.maxRetries {
			return resp, err
		}
		wait, why, retry := t.decide(resp, err, attempt)
		if !retry {
			return resp, err
		}
		if ctx.Err() != nil {
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
		}
		if t.onRetry != nil {
			t.onRetry(req, attempt+1, wait, why)
		}
		if err := t.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("waiting to retry %s %s: %w", req.Method, req.URL.Path, err)
		}
	}
}

// decide says whether and how long to wait before the next attempt.
func (t *retryTransport) decide(resp *http.Response, err error, attempt int) (time.Duration, string, bool) {
	backoff := t.baseDelay << attempt
	if backoff > t.maxDelay || backoff <= 0 {
		backoff = t.maxDelay
	}
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return 0, "", false
		}
		return backoff, "network error: " + err.Error(), true
	}
	switch {
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return backoff, resp.Status, true
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests:
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			if secs, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && secs >= 0 {
				d := time.Duration(secs) * time.Second
				return d, "secondary rate limit (Retry-After " + ra + "s)", d <= t.maxDelay
			}
		}
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			if reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
				d := time.Unix(reset, 0).Sub(t.now()) + time.Second
				if d < 0 {
					d = time.Second
				}
				return d, "primary rate limit", d <= t.maxDelay
			}
		}
		if isSecondaryLimit(resp) {
			// GitHub asks for at least a minute when it gives no Retry-After.
			d := max(backoff, time.Minute)
			return d, "secondary rate limit", d <= t.maxDelay
		}
	}
	return 0, "", false
}

// isSecondaryLimit peeks at a 403/429 body for GitHub's wording, restoring
// the body for the caller.
func isSecondaryLimit(resp *http.Response) bool {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	s := strings.ToLower(string(b))
	return strings.Contains(s, "secondary rate limit") || strings.Contains(s, "abuse detection")
}
