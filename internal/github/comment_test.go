package github_test

import (
	"context"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/github"
	"github.com/model-release/model-release/internal/github/githubtest"
)

func body(model, sha, text string) string { return github.Marker(model, sha) + "\n" + text }

func TestParseMarker(t *testing.T) {
	m, s, ok := github.ParseMarker(body("cifar10", sha1, "x"))
	if !ok || m != "cifar10" || s != sha1 {
		t.Errorf("ParseMarker = %q %q %v", m, s, ok)
	}
	for _, b := range []string{"", "hello\n" + github.Marker("m", sha1), "<!-- model-release:comment model=m sha=abc -->"} {
		if _, _, ok := github.ParseMarker(b); ok {
			t.Errorf("ParseMarker(%q) accepted", b)
		}
	}
}

func TestCommentCreateThenUpdate(t *testing.T) {
	srv := githubtest.New(t)
	srv.SetPR(githubtest.PR{Number: 5, HeadSHA: sha2})
	srv.SetHistory(sha1, sha2)
	srv.SetMaxPerPage(1)
	srv.AddComment(5, "someone", "LGTM")
	srv.AddComment(5, "someone", body("cifar10", sha1, "a copy by a human")) // not ours
	c, _ := newClient(t, srv)
	ctx := context.Background()
	res, err := c.Comment(ctx, github.CommentSpec{PR: 5, Body: body("cifar10", sha1, "first")})
	if err != nil || res.Outcome != github.Created {
		t.Fatalf("Comment = %+v, %v", res, err)
	}
	res, err = c.Comment(ctx, github.CommentSpec{PR: 5, Body: body("cifar10", sha2, "second")})
	if err != nil || res.Outcome != github.Updated {
		t.Fatalf("Comment = %+v, %v", res, err)
	}
	res, err = c.Comment(ctx, github.CommentSpec{PR: 5, Body: body("cifar10", sha2, "second")})
	if err != nil || res.Outcome != github.Unchanged {
		t.Fatalf("Comment = %+v, %v", res, err)
	}
	cs := srv.Comments(5)
	if len(cs) != 3 || !strings.HasSuffix(cs[2].Body, "second") || cs[2].Login != githubtest.DefaultLogin {
		t.Fatalf("comments %+v", cs)
	}
	if !strings.HasSuffix(cs[1].Body, "a copy by a human") {
		t.Error("another user's comment was changed")
	}
}

func TestCommentOlderCommitGuard(t *testing.T) {
	srv := githubtest.New(t)
	srv.SetHistory(sha1, sha2, sha3)
	srv.SetPR(githubtest.PR{Number: 5, HeadSHA: sha3})
	id := srv.AddComment(5, githubtest.DefaultLogin, body("cifar10", sha2, "newer"))
	c, _ := newClient(t, srv)
	ctx := context.Background()
	// sha1 is behind sha2 and neither is the head: the compare API decides.
	res, err := c.Comment(ctx, github.CommentSpec{PR: 5, Body: body("cifar10", sha1, "older")})
	if err != nil || res.Outcome != github.SkippedOlder || !res.Outcome.Skipped() {
		t.Fatalf("Comment = %+v, %v", res, err)
	}
	// The head always wins.
	res, err = c.Comment(ctx, github.CommentSpec{PR: 5, Body: body("cifar10", sha3, "head")})
	if err != nil || res.Outcome != github.Updated || res.ID != id {
		t.Fatalf("Comment = %+v, %v", res, err)
	}
	// A comment on the head is never replaced by another commit's report.
	res, err = c.Comment(ctx, github.CommentSpec{PR: 5, Body: body("cifar10", sha2, "late")})
	if err != nil || res.Outcome != github.SkippedOlder {
		t.Fatalf("Comment = %+v, %v", res, err)
	}
	if cs := srv.Comments(5); len(cs) != 1 || !strings.HasSuffix(cs[0].Body, "head") {
		t.Fatalf("comments %+v", cs)
	}
}

func TestCommentDuplicatesKeepOldest(t *testing.T) {
	srv := githubtest.New(t)
	srv.SetPR(githubtest.PR{Number: 5, HeadSHA: sha1})
	srv.ActionsToken(true) // /user is forbidden: fall back to github-actions[bot]
	oldest := srv.AddComment(5, githubtest.ActionsLogin, body("cifar10", sha1, "a"))
	srv.AddComment(5, githubtest.ActionsLogin, body("cifar10", sha1, "b"))
	srv.AddComment(5, githubtest.ActionsLogin, body("cifar10", sha1, "c"))
	other := srv.AddComment(5, githubtest.ActionsLogin, body("other-model", sha1, "d"))
	c, _ := newClient(t, srv)
	res, err := c.Comment(context.Background(), github.CommentSpec{PR: 5, Body: body("cifar10", sha1, "new")})
	if err != nil || res.Outcome != github.Updated || res.ID != oldest {
		t.Fatalf("Comment = %+v, %v", res, err)
	}
	cs := srv.Comments(5)
	if len(cs) != 2 || cs[0].ID != oldest || cs[1].ID != other || !strings.HasSuffix(cs[0].Body, "new") {
		t.Fatalf("comments %+v", cs)
	}
}

func TestCommentForkReadOnly(t *testing.T) {
	srv := githubtest.New(t)
	srv.SetPR(githubtest.PR{Number: 5, HeadSHA: sha1})
	srv.ActionsToken(true)
	srv.ReadOnly(true)
	c, _ := newClient(t, srv)
	res, err := c.Comment(context.Background(), github.CommentSpec{PR: 5, Body: body("cifar10", sha1, "x")})
	if err != nil || res.Outcome != github.SkippedReadOnly || !res.Outcome.Skipped() {
		t.Fatalf("Comment = %+v, %v", res, err)
	}
	if n := len(srv.Comments(5)); n != 0 {
		t.Errorf("%d comments written by a read-only token", n)
	}
}

func TestCommentErrors(t *testing.T) {
	srv := githubtest.New(t)
	c, _ := newClient(t, srv, github.WithRetries(0))
	if _, err := c.Comment(context.Background(), github.CommentSpec{PR: 5, Body: "no marker"}); err == nil {
		t.Error("a body without the marker was accepted")
	}
	srv.FailNext("POST", "/repos/*/*/issues/5/comments", githubtest.ServerError())
	if _, err := c.Comment(context.Background(), github.CommentSpec{PR: 5, Body: body("m", sha1, "x")}); err == nil {
		t.Error("a 500 was not reported")
	}
}
