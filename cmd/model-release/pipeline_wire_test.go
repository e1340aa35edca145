package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/model-release/model-release/internal/github"
)

type fakeReleases struct {
	latest string
	rels   []github.Release
}

func (f fakeReleases) GetRelease(_ context.Context, tag string) (github.Release, error) {
	if tag == "" {
		tag = f.latest
	}
	for _, r := range f.rels {
		if r.Tag == tag {
			return r, nil
		}
	}
	return github.Release{}, github.ErrNotFound
}
func (f fakeReleases) ListReleases(context.Context) ([]github.Release, error) { return f.rels, nil }

type assetByTag struct{ asked []string }

func (a *assetByTag) FetchReleaseAsset(_ context.Context, tag, name string) ([]byte, error) {
	a.asked = append(a.asked, tag)
	return []byte(tag + "/" + name), nil
}

// "latest" skips the release made from the run's own commit (a re-run)
// and takes the newest published one before it.
func TestBaselineLatestSkipsTheReleaseOfThisCommit(t *testing.T) {
	day := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	withMetrics := []github.ReleaseAsset{{Name: "metrics.json"}}
	rels := fakeReleases{latest: "v1.2.0", rels: []github.Release{
		{Tag: "v1.0.0", Target: "a", Created: day, Assets: withMetrics},
		{Tag: "v1.1.0", Target: "b", Created: day.Add(48 * time.Hour), Assets: withMetrics},
		{Tag: "v1.1.1-rc.1", Target: "c", Prerelease: true, Created: day.Add(72 * time.Hour), Assets: withMetrics},
		{Tag: "v1.2.0", Target: "c", Created: day.Add(96 * time.Hour), Assets: withMetrics},
	}}
	for _, c := range []struct{ sha, want string }{
		{"c", "v1.1.0"}, // re-run of v1.2.0: the release before it
		{"d", ""},       // a new commit: the ordinary latest lookup
	} {
		f := &assetByTag{}
		b, err := priorReleases{f: f, gh: rels, sha: c.sha}.FetchReleaseAsset(context.Background(), "", "metrics.json")
		if err != nil || string(b) != c.want+"/metrics.json" {
			t.Errorf("sha %s: %q, %v; want %s's metrics", c.sha, b, err, c.want)
		}
	}
	// Re-running the first release: there is nothing before it.
	first := fakeReleases{latest: "v1.0.0", rels: rels.rels[:1]}
	_, err := priorReleases{f: &assetByTag{}, gh: first, sha: "a"}.FetchReleaseAsset(context.Background(), "", "metrics.json")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("re-run of the first release: %v, want not-exist (first release)", err)
	}
	// A named tag is never redirected.
	f := &assetByTag{}
	if _, err := (priorReleases{f: f, gh: rels, sha: "c"}).FetchReleaseAsset(context.Background(), "v1.2.0", "metrics.json"); err != nil || fmt.Sprint(f.asked) != "[v1.2.0]" {
		t.Errorf("tag v1.2.0 fetched %v, %v", f.asked, err)
	}
}
