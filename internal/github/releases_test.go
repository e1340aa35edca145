package github_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/model-release/model-release/internal/github"
	"github.com/model-release/model-release/internal/github/githubtest"
	"github.com/model-release/model-release/internal/version"
)

const (
	sha1 = "1111111111111111111111111111111111111111"
	sha2 = "2222222222222222222222222222222222222222"
	sha3 = "3333333333333333333333333333333333333333"
)

// waits records the sleeps the client asked for, instead of sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(_ context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return nil
}

func newClient(t *testing.T, srv *githubtest.Server, opts ...github.Option) (*github.Client, *waits) {
	t.Helper()
	w := &waits{}
	opts = append([]github.Option{github.WithSleep(w.sleep)}, opts...)
	c, err := github.New(githubtest.DefaultToken, srv.URL, "owner/repo", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

func testAssets(weights string) []github.Asset {
	return []github.Asset{
		{Name: "model.safetensors", Data: bytes.Repeat([]byte(weights), 1000)},
		{Name: "model.json", Data: []byte(`{"architecture":"convnet"}`)},
		{Name: "metrics.json", Data: []byte(`{"accuracy":0.91}`)},
		{Name: "MODEL_CARD.md", Data: []byte("# Model card\n")},
	}
}

func spec(tag, sha, weights string) github.ReleaseSpec {
	return github.ReleaseSpec{Tag: tag, SHA: sha, Body: "notes", MakeLatest: true, Assets: testAssets(weights)}
}

// checkComplete asserts exactly one published release for tag with the
// assets of want and a SHA256SUMS matching them.
func checkComplete(t *testing.T, srv *githubtest.Server, tag, sha string, want []github.Asset) githubtest.Release {
	t.Helper()
	var found []githubtest.Release
	for _, r := range srv.Releases() {
		if r.Tag == tag {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d releases for %s, want 1: %+v", len(found), tag, found)
	}
	r := found[0]
	if r.Draft {
		t.Fatalf("release %s is still a draft", tag)
	}
	if got := srv.Tags()[tag]; got != sha {
		t.Fatalf("tag %s at %q, want %s", tag, got, sha)
	}
	byName := map[string][]byte{}
	for _, a := range r.Assets {
		if _, dup := byName[a.Name]; dup {
			t.Fatalf("asset %s appears twice", a.Name)
		}
		byName[a.Name] = a.Data
	}
	if len(byName) != len(want)+1 {
		t.Fatalf("release has assets %v, want %d + SHA256SUMS", keys(byName), len(want))
	}
	for _, a := range want {
		if !bytes.Equal(byName[a.Name], a.Data) {
			t.Fatalf("asset %s content differs", a.Name)
		}
		h := sha256.Sum256(a.Data)
		if !strings.Contains(string(byName[github.SumsName]), hex.EncodeToString(h[:])+"  "+a.Name+"\n") {
			t.Fatalf("SHA256SUMS lacks %s:\n%s", a.Name, byName[github.SumsName])
		}
	}
	return r
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestPublishFirstRelease(t *testing.T) {
	srv := githubtest.New(t)
	srv.SetMaxPerPage(2) // every list paginates
	for i := 0; i < 5; i++ {
		srv.AddRelease(githubtest.Release{Tag: "old-" + string(rune('a'+i)), Target: sha3})
	}
	c, _ := newClient(t, srv)
	s := spec("v0.1.0", sha1, "w")
	rel, err := c.Publish(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	r := checkComplete(t, srv, "v0.1.0", sha1, s.Assets)
	if !r.Latest || rel.Draft || rel.Tag != "v0.1.0" || rel.URL == "" || len(rel.Assets) != 5 {
		t.Errorf("release %+v (latest %v)", rel, r.Latest)
	}
	if r.Target != sha1 {
		t.Errorf("target_commitish %q, want the exact SHA", r.Target)
	}
	// It was created as a draft and published only after the uploads.
	var order []string
	for _, q := range srv.Requests() {
		switch {
		case q.Method == "POST" && strings.HasSuffix(q.Path, "/releases"):
			if !strings.Contains(string(q.Body), `"draft":true`) {
				t.Errorf("release created without draft: %s", q.Body)
			}
			order = append(order, "create")
		case q.Method == "POST" && strings.HasPrefix(q.Path, "/uploads/"):
			order = append(order, "upload")
		case q.Method == "PATCH":
			order = append(order, "publish")
		}
	}
	if strings.Join(order, ",") != "create,upload,upload,upload,upload,upload,publish" {
		t.Errorf("call order %v", order)
	}
}

func TestSecondReleaseBumps(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddTag("code-v9.0.0", sha3) // a code tag, not a model tag
	srv.SetPR(githubtest.PR{Number: 7, HeadSHA: sha2, Labels: []string{"release:minor"}, Commits: []string{"fix: x"}})
	c, _ := newClient(t, srv)
	ctx := context.Background()
	next := func(bump string, pr int) string {
		tags, err := c.ListTags(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for n := range tags {
			names = append(names, n)
		}
		in := version.Input{Tags: names, Prefix: "model-v", Bump: bump}
		if pr != 0 {
			info, err := c.PullRequest(ctx, pr)
			if err != nil {
				t.Fatal(err)
			}
			in.Labels, in.Commits = info.Labels, info.Commits
		}
		res, err := version.Next(in)
		if err != nil {
			t.Fatal(err)
		}
		return res.Tag
	}
	first := next(version.Patch, 0)
	if first != "model-v0.1.0" {
		t.Fatalf("first = %s", first)
	}
	if _, err := c.Publish(ctx, spec(first, sha1, "a")); err != nil {
		t.Fatal(err)
	}
	second := next(version.Auto, 7)
	if second != "model-v0.2.0" {
		t.Fatalf("second = %s, want model-v0.2.0 from the release:minor label", second)
	}
	if _, err := c.Publish(ctx, spec(second, sha2, "b")); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, srv, second, sha2, testAssets("b"))
	latest, err := c.GetRelease(ctx, "")
	if err != nil || latest.Tag != second {
		t.Fatalf("latest = %+v, %v", latest, err)
	}
	if err := c.SetLatest(ctx, first); err != nil {
		t.Fatal(err)
	}
	if latest, _ := c.GetRelease(ctx, ""); latest.Tag != first {
		t.Fatalf("after SetLatest latest = %s", latest.Tag)
	}
	b, err := c.FetchReleaseAsset(ctx, "", "metrics.json")
	if err != nil || string(b) != `{"accuracy":0.91}` {
		t.Fatalf("FetchReleaseAsset = %q, %v", b, err)
	}
	if _, err := c.FetchReleaseAsset(ctx, second, "nope.bin"); !errors.Is(err, github.ErrNotFound) {
		t.Fatalf("missing asset error = %v", err)
	}
	if _, err := c.GetRelease(ctx, "model-v7.0.0"); !errors.Is(err, github.ErrNotFound) {
		t.Fatalf("missing release error = %v", err)
	}
	rels, err := c.ListReleases(ctx)
	if err != nil || len(rels) != 2 {
		t.Fatalf("ListReleases = %d, %v", len(rels), err)
	}
}

func TestPublishRerunIsIdempotent(t *testing.T) {
	srv := githubtest.New(t)
	srv.SetPR(githubtest.PR{Number: 3, HeadSHA: sha1})
	c, _ := newClient(t, srv)
	ctx := context.Background()
	s := spec("v1.0.0", sha1, "w")
	body := github.Marker("cifar10", sha1) + "\nreport"
	for i := 0; i < 5; i++ {
		if _, err := c.Publish(ctx, s); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if _, err := c.Comment(ctx, github.CommentSpec{PR: 3, Body: body}); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	checkComplete(t, srv, "v1.0.0", sha1, s.Assets)
	if n := len(srv.Releases()); n != 1 {
		t.Errorf("%d releases, want 1", n)
	}
	if n := len(srv.Tags()); n != 1 {
		t.Errorf("%d tags, want 1", n)
	}
	if n := len(srv.Comments(3)); n != 1 {
		t.Errorf("%d comments, want 1", n)
	}
	uploads := 0
	for _, q := range srv.Requests() {
		if strings.HasPrefix(q.Path, "/uploads/") {
			uploads++
		}
	}
	if uploads != 5 {
		t.Errorf("%d uploads over 5 runs, want the 5 of the first run only", uploads)
	}
}

func TestPublishReplacesOnlyChangedAssets(t *testing.T) {
	srv := githubtest.New(t)
	c, _ := newClient(t, srv)
	ctx := context.Background()
	s := spec("v1.0.0", sha1, "w")
	if _, err := c.Publish(ctx, s); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, a := range srv.Releases()[0].Assets {
		ids[a.Name] = a.ID
	}
	s.Assets[2].Data = []byte(`{"accuracy":0.92}`) // same size, new content
	if _, err := c.Publish(ctx, s); err != nil {
		t.Fatal(err)
	}
	r := checkComplete(t, srv, "v1.0.0", sha1, s.Assets)
	for _, a := range r.Assets {
		changed := a.Name == "metrics.json" || a.Name == github.SumsName
		if (ids[a.Name] != a.ID) != changed {
			t.Errorf("asset %s: id %d -> %d, changed=%v", a.Name, ids[a.Name], a.ID, changed)
		}
	}
}

func TestPublishTagOnOtherCommit(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddTag("v1.0.0", sha2)
	c, _ := newClient(t, srv)
	_, err := c.Publish(context.Background(), spec("v1.0.0", sha1, "w"))
	var tc *github.TagConflictError
	if !errors.As(err, &tc) || tc.Got != sha2 {
		t.Fatalf("err = %v, want a tag conflict", err)
	}
	if n := len(srv.Releases()); n != 0 {
		t.Errorf("%d releases created despite the conflict", n)
	}
}

func TestPublishCompletesLeftoverDraft(t *testing.T) {
	srv := githubtest.New(t)
	c, _ := newClient(t, srv)
	s := spec("v1.0.0", sha1, "w")
	id := srv.AddRelease(githubtest.Release{Tag: "v1.0.0", Target: sha3, Draft: true,
		Assets: []githubtest.Asset{{Name: "model.safetensors", Data: []byte("half")}, {Name: "stale.bin", Data: []byte("x")}}})
	if _, err := c.Publish(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	r := checkComplete(t, srv, "v1.0.0", sha1, s.Assets)
	if r.ID != id || r.Target != sha1 {
		t.Errorf("release id %d target %s, want the draft %d retargeted to %s", r.ID, r.Target, id, sha1)
	}
}

func TestPublishCleanupDeletesLeftoverDraft(t *testing.T) {
	srv := githubtest.New(t)
	c, _ := newClient(t, srv)
	s := spec("v1.0.0", sha1, "w")
	s.Cleanup = true
	id := srv.AddRelease(githubtest.Release{Tag: "v1.0.0", Target: sha1, Draft: true})
	if _, err := c.Publish(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if r := checkComplete(t, srv, "v1.0.0", sha1, s.Assets); r.ID == id {
		t.Error("the leftover draft was reused despite --cleanup")
	}
}

func TestPublishCleanupOnFailure(t *testing.T) {
	srv := githubtest.New(t)
	c, _ := newClient(t, srv, github.WithRetries(0))
	s := spec("v1.0.0", sha1, "w")
	s.Cleanup = true
	srv.FailNext("POST", "/uploads/repos/*/*/releases/*/assets", githubtest.ServerError())
	if _, err := c.Publish(context.Background(), s); err == nil {
		t.Fatal("no error")
	}
	if n := len(srv.Releases()); n != 0 {
		t.Fatalf("%d releases left after a failure with --cleanup", n)
	}
}

// Every step, every fault: retried to success, or (when it outlasts the
// retries) a draft at most, completed by the next run.
func TestPublishFaults(t *testing.T) {
	steps := []struct{ name, method, pattern string }{
		{"tag lookup", "GET", "/repos/*/*/git/ref/tags/*"},
		{"list releases", "GET", "/repos/*/*/releases"},
		{"create draft", "POST", "/repos/*/*/releases"},
		{"list assets", "GET", "/repos/*/*/releases/*/assets"},
		{"upload", "POST", "/uploads/repos/*/*/releases/*/assets"},
		{"publish", "PATCH", "/repos/*/*/releases/*"},
	}
	faults := []githubtest.Fault{
		githubtest.ServerError(), githubtest.BadGateway(), githubtest.SecondaryRateLimit(3),
		githubtest.PrimaryRateLimit(time.Unix(1_700_000_060, 0)), githubtest.ConnReset(),
	}
	clock := func() time.Time { return time.Unix(1_700_000_000, 0) }
	for _, st := range steps {
		for _, f := range faults {
			t.Run(st.name+"/"+f.Name, func(t *testing.T) {
				srv := githubtest.New(t)
				c, w := newClient(t, srv, github.WithClock(clock), github.WithRetries(3))
				s := spec("v1.0.0", sha1, "w")
				srv.FailNext(st.method, st.pattern, f)
				if _, err := c.Publish(context.Background(), s); err != nil {
					t.Fatalf("one fault was not retried to success: %v", err)
				}
				if srv.PendingFaults() != 0 {
					t.Fatal("the fault never fired")
				}
				checkComplete(t, srv, "v1.0.0", sha1, s.Assets)
				// Go's transport itself redials a reset idempotent request.
				if len(w.d) != 1 && !(f.Reset && st.method == "GET" && len(w.d) == 0) {
					t.Errorf("waited %v, want one wait", w.d)
				}
			})
			t.Run(st.name+"/"+f.Name+"/persistent", func(t *testing.T) {
				srv := githubtest.New(t)
				c, _ := newClient(t, srv, github.WithClock(clock), github.WithRetries(2))
				s := spec("v1.0.0", sha1, "w")
				for i := 0; i < 10; i++ {
					srv.FailNext(st.method, st.pattern, f)
				}
				if _, err := c.Publish(context.Background(), s); err == nil {
					t.Fatal("no error although the fault outlasted the retries")
				}
				srv.ClearFaults()
				for _, r := range srv.Releases() {
					if !r.Draft && len(r.Assets) != len(s.Assets)+1 {
						t.Fatalf("a published release with %d assets", len(r.Assets))
					}
				}
				next, _ := newClient(t, srv) // the next run is a new process
				if _, err := next.Publish(context.Background(), s); err != nil {
					t.Fatalf("the next run did not complete: %v", err)
				}
				checkComplete(t, srv, "v1.0.0", sha1, s.Assets)
			})
		}
	}
}

func TestPublishAlreadyExists(t *testing.T) {
	for _, pattern := range []string{"/repos/*/*/releases", "/uploads/repos/*/*/releases/*/assets"} {
		t.Run(pattern, func(t *testing.T) {
			srv := githubtest.New(t)
			c, _ := newClient(t, srv)
			s := spec("v1.0.0", sha1, "w")
			srv.FailNext("POST", pattern, githubtest.AlreadyExists())
			_, err := c.Publish(context.Background(), s)
			if err != nil {
				// Allowed only if it leaves nothing published; the next run completes.
				if _, err := c.Publish(context.Background(), s); err != nil {
					t.Fatal(err)
				}
			}
			checkComplete(t, srv, "v1.0.0", sha1, s.Assets)
		})
	}
}

func TestPublishNotLatestAndPrerelease(t *testing.T) {
	srv := githubtest.New(t)
	c, _ := newClient(t, srv)
	ctx := context.Background()
	if _, err := c.Publish(ctx, spec("v1.0.0", sha1, "a")); err != nil {
		t.Fatal(err)
	}
	s := spec("v1.1.0-rc.1", sha2, "b")
	s.Prerelease = true
	if _, err := c.Publish(ctx, s); err != nil {
		t.Fatal(err)
	}
	s = spec("v1.1.0", sha3, "c")
	s.MakeLatest = false
	if _, err := c.Publish(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Releases() {
		if r.Latest != (r.Tag == "v1.0.0") {
			t.Errorf("release %s latest=%v", r.Tag, r.Latest)
		}
		if r.Prerelease != (r.Tag == "v1.1.0-rc.1") {
			t.Errorf("release %s prerelease=%v", r.Tag, r.Prerelease)
		}
	}
}

func TestGHESBaseURL(t *testing.T) {
	srv := githubtest.New(t)
	w := &waits{}
	c, err := github.New(githubtest.DefaultToken, srv.URL+"/api/v3", "owner/repo", github.WithSleep(w.sleep))
	if err != nil {
		t.Fatal(err)
	}
	s := spec("v1.0.0", sha1, "w")
	if _, err := c.Publish(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, srv, "v1.0.0", sha1, s.Assets)
	for _, q := range srv.Requests() {
		if !strings.HasPrefix(q.URLPath, "/api/v3/") && !strings.HasPrefix(q.URLPath, "/api/uploads/") {
			t.Errorf("request %s %s outside the GHES prefixes", q.Method, q.URLPath)
		}
	}
}

func TestBadTokenAndInputs(t *testing.T) {
	srv := githubtest.New(t)
	c, err := github.New("wrong", srv.URL, "owner/repo", github.WithSleep((&waits{}).sleep))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListReleases(context.Background()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("bad token: %v", err)
	}
	if _, err := github.New("t", srv.URL, "no-slash"); err == nil {
		t.Error("repository without a slash accepted")
	}
	if _, err := github.New("", srv.URL, "o/r"); err == nil {
		t.Error("empty token accepted")
	}
	if _, err := github.New("t", "ftp://x", "o/r"); err == nil {
		t.Error("ftp API URL accepted")
	}
	good, _ := newClient(t, srv)
	if _, err := good.Publish(context.Background(), spec("v1.0.0", "abc", "w")); err == nil {
		t.Error("short SHA accepted")
	}
}

func TestAssetsFromDir(t *testing.T) {
	dir := t.TempDir()
	if _, err := github.AssetsFromDir(dir); err == nil {
		t.Fatal("empty dir accepted")
	}
	for _, n := range []string{"model.safetensors", "model.json", "metrics.json"} {
		os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644)
	}
	as, err := github.AssetsFromDir(dir)
	if err != nil || len(as) != 3 {
		t.Fatalf("AssetsFromDir = %v, %v", as, err)
	}
	sums := string(github.Sums(as))
	if !strings.HasPrefix(sums, "") || strings.Count(sums, "\n") != 3 || !strings.Contains(sums, "  metrics.json\n") {
		t.Errorf("SHA256SUMS:\n%s", sums)
	}
}

func TestDryWritesNothing(t *testing.T) {
	var out bytes.Buffer
	d := github.Dry{W: &out, Repository: "owner/repo"}
	ctx := context.Background()
	if _, err := d.Publish(ctx, spec("v1.0.0", sha1, "w")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Comment(ctx, github.CommentSpec{PR: 1, Body: github.Marker("m", sha1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PostStatus(ctx, github.StatusSpec{SHA: sha1, State: "success"}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"would POST /repos/owner/repo/releases: create draft release", "upload", "SHA256SUMS", "would PATCH", "issues/1/comments", "check-runs"} {
		if !strings.Contains(got, want) {
			t.Errorf("dry output lacks %q:\n%s", want, got)
		}
	}
	if _, err := d.Publish(ctx, spec("v1.0.0", "nope", "w")); err == nil {
		t.Error("dry run accepted a bad SHA")
	}
}
