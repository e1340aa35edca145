package github_test

import (
	"context"
	"testing"
	"time"

	"github.com/model-release/model-release/internal/github"
	"github.com/model-release/model-release/internal/github/githubtest"
)

func TestRetryWaits(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name  string
		fault githubtest.Fault
		want  time.Duration
	}{
		{"retry-after", githubtest.SecondaryRateLimit(7), 7 * time.Second},
		{"rate-limit reset", githubtest.PrimaryRateLimit(now.Add(90 * time.Second)), 91 * time.Second},
		{"5xx backoff", githubtest.ServerError(), time.Second},
		{"secondary without retry-after", githubtest.Fault{Name: "2nd", Status: 403, Body: `{"message":"You have exceeded a secondary rate limit"}`}, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := githubtest.New(t)
			c, w := newClient(t, srv, github.WithClock(func() time.Time { return now }))
			srv.FailNext("GET", "/repos/*/*/releases", tt.fault)
			if _, err := c.ListReleases(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(w.d) != 1 || w.d[0] != tt.want {
				t.Errorf("waits %v, want [%v]", w.d, tt.want)
			}
		})
	}
}

func TestRetryBackoffGrowsAndIsBounded(t *testing.T) {
	srv := githubtest.New(t)
	c, w := newClient(t, srv, github.WithRetries(3))
	for i := 0; i < 4; i++ {
		srv.FailNext("GET", "/repos/*/*/releases", githubtest.BadGateway())
	}
	if _, err := c.ListReleases(context.Background()); err == nil {
		t.Fatal("no error after the retries ran out")
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	if len(w.d) != len(want) {
		t.Fatalf("waits %v, want %v", w.d, want)
	}
	for i := range want {
		if w.d[i] != want[i] {
			t.Fatalf("waits %v, want %v", w.d, want)
		}
	}
}

func TestRetryDoesNotRetryClientErrorsOrLongWaits(t *testing.T) {
	srv := githubtest.New(t)
	c, w := newClient(t, srv, github.WithMaxWait(time.Minute))
	srv.FailNext("GET", "/repos/*/*/releases", githubtest.SecondaryRateLimit(3600))
	if _, err := c.ListReleases(context.Background()); err == nil {
		t.Fatal("an hour-long rate limit was waited out or hidden")
	}
	// A fresh client: go-github itself now refuses calls for that hour.
	c2, w2 := newClient(t, srv)
	srv.FailNext("GET", "/repos/*/*/releases", githubtest.Forbidden())
	if _, err := c2.ListReleases(context.Background()); err == nil {
		t.Fatal("a plain 403 succeeded")
	}
	if srv.PendingFaults() != 0 {
		t.Fatal("the 403 never reached the server")
	}
	if len(w.d)+len(w2.d) != 0 {
		t.Errorf("waited %v %v for errors that are not temporary", w.d, w2.d)
	}
}
