package github_test

import (
	"context"
	"errors"
	"testing"

	"github.com/model-release/model-release/internal/github"
	"github.com/model-release/model-release/internal/github/githubtest"
)

func TestCheckWrite(t *testing.T) {
	ctx := context.Background()
	srv := githubtest.New(t)
	c, _ := newClient(t, srv)
	if known, err := c.CheckWrite(ctx); err != nil || !known {
		t.Errorf("writable token: known %t, err %v", known, err)
	}
	srv.ReadOnly(true)
	known, err := c.CheckWrite(ctx)
	if !known || !errors.Is(err, github.ErrReadOnly) {
		t.Errorf("read-only token: known %t, err %v", known, err)
	}
	srv.ActionsToken(true)
	if known, err := c.CheckWrite(ctx); err != nil || known {
		t.Errorf("Actions token (permissions not reported): known %t, err %v", known, err)
	}
	bad, err := github.New("wrong", srv.URL, "owner/repo", github.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.CheckWrite(ctx); err == nil {
		t.Error("bad credentials passed the write check")
	}
}

func TestPublishDraftThenPublish(t *testing.T) {
	ctx := context.Background()
	srv := githubtest.New(t)
	c, _ := newClient(t, srv)
	sp := spec("v1.0.0", sha1, "w")
	sp.Draft = true
	if _, err := c.Publish(ctx, sp); err != nil {
		t.Fatal(err)
	}
	rels := srv.Releases()
	if len(rels) != 1 || !rels[0].Draft || len(rels[0].Assets) != 5 {
		t.Fatalf("after the draft step: %+v", rels)
	}
	if _, ok := srv.Tags()["v1.0.0"]; ok {
		t.Error("a draft created the tag")
	}
	uploads := countUploads(srv)
	sp.Draft = false
	rel, err := c.Publish(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	rels = srv.Releases()
	if len(rels) != 1 || rels[0].Draft || !rels[0].Latest || rel.Draft {
		t.Fatalf("after publishing: %+v", rels)
	}
	if n := countUploads(srv); n != uploads {
		t.Errorf("publishing the draft uploaded %d assets again", n-uploads)
	}
}

func countUploads(srv *githubtest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == "POST" && len(r.Path) > 8 && r.Path[:8] == "/uploads" {
			n++
		}
	}
	return n
}
