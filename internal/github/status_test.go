package github_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/model-release/model-release/internal/github"
	"github.com/model-release/model-release/internal/github/githubtest"
)

func TestStatusCheckRunUpdatedInPlace(t *testing.T) {
	srv := githubtest.New(t)
	c, _ := newClient(t, srv)
	ctx := context.Background()
	first, err := c.PostStatus(ctx, github.StatusSpec{SHA: sha1, State: github.StatePending, URL: "https://ci/run/1"})
	if err != nil || first.Kind != "check-run" {
		t.Fatalf("PostStatus = %+v, %v", first, err)
	}
	if runs := srv.CheckRuns(); len(runs) != 1 || runs[0].Status != "in_progress" || runs[0].Conclusion != "" {
		t.Fatalf("runs %+v", runs)
	}
	long := strings.Repeat("é", 70000)
	second, err := c.PostStatus(ctx, github.StatusSpec{SHA: sha1, State: github.StateFailure, Title: "accuracy 41% < 50%", Summary: long})
	if err != nil || second.ID != first.ID {
		t.Fatalf("PostStatus = %+v, %v (want the same check run %d)", second, err, first.ID)
	}
	runs := srv.CheckRuns()
	if len(runs) != 1 {
		t.Fatalf("%d check runs, want 1", len(runs))
	}
	r := runs[0]
	if r.Name != github.CheckName || r.Status != "completed" || r.Conclusion != "failure" || r.Title != "accuracy 41% < 50%" || !r.CompletedAtSet {
		t.Errorf("run %+v", r)
	}
	if n := utf8.RuneCountInString(r.Summary); n != 65535 || !strings.HasSuffix(r.Summary, "(truncated)") {
		t.Errorf("summary of %d characters", n)
	}
	// Another commit gets its own check run.
	if _, err := c.PostStatus(ctx, github.StatusSpec{SHA: sha2, State: github.StateSuccess}); err != nil {
		t.Fatal(err)
	}
	if runs := srv.CheckRuns(); len(runs) != 2 || runs[1].HeadSHA != sha2 || runs[1].Conclusion != "success" {
		t.Fatalf("runs %+v", runs)
	}
}

func TestStatusFallsBackToCommitStatus(t *testing.T) {
	srv := githubtest.New(t)
	srv.ForbidChecks(true)
	c, _ := newClient(t, srv)
	title := strings.Repeat("x", 200)
	res, err := c.PostStatus(context.Background(), github.StatusSpec{SHA: sha1, State: github.StateSuccess, Title: title, URL: "https://ci/run/1"})
	if err != nil || res.Kind != "commit-status" {
		t.Fatalf("PostStatus = %+v, %v", res, err)
	}
	st := srv.Statuses(sha1)
	if len(st) != 1 || st[0].Context != github.StatusContext || st[0].State != "success" || st[0].TargetURL != "https://ci/run/1" || utf8.RuneCountInString(st[0].Description) != 140 {
		t.Fatalf("statuses %+v", st)
	}
	if len(srv.CheckRuns()) != 0 {
		t.Error("a check run was written despite the 403")
	}
}

func TestStatusReadOnlySkipped(t *testing.T) {
	srv := githubtest.New(t)
	srv.ReadOnly(true)
	c, _ := newClient(t, srv)
	res, err := c.PostStatus(context.Background(), github.StatusSpec{SHA: sha1, State: github.StatePending})
	if err != nil || !res.Skipped {
		t.Fatalf("PostStatus = %+v, %v", res, err)
	}
	if _, err := c.PostStatus(context.Background(), github.StatusSpec{SHA: sha1, State: "done"}); err == nil {
		t.Error("bad state accepted")
	}
}
