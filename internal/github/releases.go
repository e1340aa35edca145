package github

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// SumsName is the checksum asset every release carries.
const SumsName = "SHA256SUMS"

// ErrNotFound is returned (wrapped) when a release or asset does not exist.
var ErrNotFound = errors.New("not found")

// Release is the part of a GitHub release that model-release uses.
type Release struct {
	ID         int64
	Tag        string
	Name       string
	Body       string
	Target     string // target_commitish: the commit SHA the tag is (or will be) created at
	Draft      bool
	Prerelease bool
	URL        string // html_url
	Created    time.Time
	Assets     []ReleaseAsset
}

// ReleaseAsset is one file attached to a release.
type ReleaseAsset struct {
	ID          int64
	Name        string
	Size        int
	DownloadURL string
}

// Asset is a file to attach to a release.
type Asset struct {
	Name string
	Data []byte
}

// ReleaseSpec says what Publish should make exist.
type ReleaseSpec struct {
	Tag        string
	SHA        string // the exact commit; the tag is created there on publication
	Name       string // defaults to Tag
	Body       string
	Prerelease bool
	MakeLatest bool    // mark it as the latest release when published
	Assets     []Asset // SHA256SUMS is added by Publish
	// Cleanup deletes a leftover draft for the tag and starts afresh, and
	// deletes this run's draft when a later step fails.
	Cleanup bool
	// Draft stops once the assets are uploaded and leaves the release a
	// draft (a published one stays published): the caller checks the
	// pushed image first, then calls Publish again without Draft, which
	// finds the draft, keeps its matching assets and publishes it.
	Draft bool
}

// TagConflictError says the tag already names another commit.
type TagConflictError struct {
	Tag, Want, Got string
}

func (e *TagConflictError) Error() string {
	return fmt.Sprintf("tag %s already exists at commit %s, not %s: choose another version (--version) or delete the tag", e.Tag, short(e.Got), short(e.Want))
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

var shaRe = regexp.MustCompile(`^[0-9a-f]{40}$`)

// modelFiles are the model-directory files attached to a release, in order;
// required ones must exist.
var modelFiles = []struct {
	name     string
	required bool
}{
	{"model.safetensors", true},
	{"model.json", true},
	{"metrics.json", true},
	{"MODEL_CARD.md", false},
}

// AssetsFromDir reads the release assets from a model directory: weights,
// metadata, metrics and, when present, the model card.
func AssetsFromDir(dir string) ([]Asset, error) {
	var out []Asset
	for _, f := range modelFiles {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if errors.Is(err, os.ErrNotExist) && !f.required {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading release asset %s from %s (a model directory from train): %w", f.name, dir, err)
		}
		out = append(out, Asset{Name: f.name, Data: b})
	}
	return out, nil
}

// Sums renders SHA256SUMS for assets in sha256sum's format, sorted by name.
func Sums(assets []Asset) []byte {
	var lines []string
	for _, a := range assets {
		if a.Name == SumsName {
			continue
		}
		lines = append(lines, digest(a.Data)+"  "+a.Name+"\n")
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i][66:] < lines[j][66:] })
	return []byte(strings.Join(lines, ""))
}

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func parseSums(b []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if ok && len(sum) == 64 {
			out[strings.TrimPrefix(name, "*")] = sum
		}
	}
	return out
}

func withSums(assets []Asset) []Asset {
	out := make([]Asset, 0, len(assets)+1)
	for _, a := range assets {
		if a.Name != SumsName {
			out = append(out, a)
		}
	}
	return append(out, Asset{Name: SumsName, Data: Sums(out)})
}

func toRelease(r *gh.RepositoryRelease) Release {
	out := Release{
		ID: r.GetID(), Tag: r.GetTagName(), Name: r.GetName(), Body: r.GetBody(), Target: r.GetTargetCommitish(),
		Draft: r.GetDraft(), Prerelease: r.GetPrerelease(), URL: r.GetHTMLURL(), Created: r.GetCreatedAt().Time,
	}
	for _, a := range r.Assets {
		out.Assets = append(out.Assets, ReleaseAsset{ID: a.GetID(), Name: a.GetName(), Size: a.GetSize(), DownloadURL: a.GetBrowserDownloadURL()})
	}
	return out
}

func (c *Client) listReleases(ctx context.Context) ([]*gh.RepositoryRelease, error) {
	rels, err := listAll(ctx, func(opt gh.ListOptions) ([]*gh.RepositoryRelease, *gh.Response, error) {
		return c.gh.Repositories.ListReleases(ctx, c.owner, c.repo, &opt)
	})
	if err != nil {
		return nil, fmt.Errorf("listing releases of %s: %w", c.Repository(), err)
	}
	return rels, nil
}

// ListReleases returns every release, drafts included, newest first.
func (c *Client) ListReleases(ctx context.Context) ([]Release, error) {
	rels, err := c.listReleases(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Release, len(rels))
	for i, r := range rels {
		out[i] = toRelease(r)
	}
	return out, nil
}

// GetRelease returns the release for tag, drafts included; tag "" means
// the latest published release. A missing one wraps ErrNotFound.
func (c *Client) GetRelease(ctx context.Context, tag string) (Release, error) {
	r, err := c.getRelease(ctx, tag)
	if err != nil {
		return Release{}, err
	}
	return toRelease(r), nil
}

func (c *Client) getRelease(ctx context.Context, tag string) (*gh.RepositoryRelease, error) {
	if tag == "" {
		r, _, err := c.gh.Repositories.GetLatestRelease(ctx, c.owner, c.repo)
		if isNotFound(err) {
			return nil, fmt.Errorf("latest release of %s: %w (no published release yet)", c.Repository(), ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("reading latest release of %s: %w", c.Repository(), err)
		}
		return r, nil
	}
	r, _, err := c.gh.Repositories.GetReleaseByTag(ctx, c.owner, c.repo, tag)
	if err == nil {
		return r, nil
	}
	if !isNotFound(err) {
		return nil, fmt.Errorf("reading release %s: %w", tag, err)
	}
	// Drafts are invisible to the by-tag endpoint: look through the list.
	rels, err := c.listReleases(ctx)
	if err != nil {
		return nil, err
	}
	if r := pickRelease(rels, tag); r != nil {
		return r, nil
	}
	return nil, fmt.Errorf("release %s in %s: %w", tag, c.Repository(), ErrNotFound)
}

// pickRelease returns the release for tag: the published one if any, else
// the oldest draft.
func pickRelease(rels []*gh.RepositoryRelease, tag string) *gh.RepositoryRelease {
	var best *gh.RepositoryRelease
	for _, r := range rels {
		if r.GetTagName() != tag {
			continue
		}
		switch {
		case best == nil:
			best = r
		case best.GetDraft() && !r.GetDraft():
			best = r
		case best.GetDraft() == r.GetDraft() && r.GetID() < best.GetID():
			best = r
		}
	}
	return best
}

// SetLatest marks the published release for tag as the latest.
func (c *Client) SetLatest(ctx context.Context, tag string) error {
	r, err := c.getRelease(ctx, tag)
	if err != nil {
		return err
	}
	if r.GetDraft() {
		return fmt.Errorf("release %s is a draft and cannot be latest: publish it first (re-run release)", tag)
	}
	if _, _, err := c.gh.Repositories.EditRelease(ctx, c.owner, c.repo, r.GetID(), &gh.RepositoryRelease{MakeLatest: gh.String("true")}); err != nil {
		return fmt.Errorf("marking release %s as latest: %w", tag, err)
	}
	return nil
}

// DeleteRelease deletes the release for tag and, when deleteTag is set,
// the tag itself. A missing release is not an error.
func (c *Client) DeleteRelease(ctx context.Context, tag string, deleteTag bool) error {
	r, err := c.getRelease(ctx, tag)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if r != nil {
		if _, err := c.gh.Repositories.DeleteRelease(ctx, c.owner, c.repo, r.GetID()); err != nil && !isNotFound(err) {
			return fmt.Errorf("deleting release %s: %w", tag, err)
		}
	}
	if deleteTag {
		if _, err := c.gh.Git.DeleteRef(ctx, c.owner, c.repo, "tags/"+tag); err != nil && !isNotFound(err) && statusOf(err) != 422 {
			return fmt.Errorf("deleting tag %s: %w", tag, err)
		}
	}
	return nil
}

// FetchReleaseAsset downloads asset name of the release for tag ("" means
// the latest published release).
func (c *Client) FetchReleaseAsset(ctx context.Context, tag, name string) ([]byte, error) {
	r, err := c.getRelease(ctx, tag)
	if err != nil {
		return nil, err
	}
	for _, a := range r.Assets {
		if a.GetName() == name {
			return c.downloadAsset(ctx, a.GetID())
		}
	}
	return nil, fmt.Errorf("asset %s of release %s: %w", name, r.GetTagName(), ErrNotFound)
}

func (c *Client) downloadAsset(ctx context.Context, id int64) ([]byte, error) {
	rc, _, err := c.gh.Repositories.DownloadReleaseAsset(ctx, c.owner, c.repo, id, c.download)
	if err != nil {
		return nil, fmt.Errorf("downloading release asset %d: %w", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("downloading release asset %d: %w", id, err)
	}
	return b, nil
}

// Publish makes the release in spec exist, complete and published, safely
// re-runnable: it reuses the release for the tag (or a draft left by an
// earlier failed run), creates a draft targeting spec.SHA otherwise,
// uploads the assets that are missing or differ, and only then publishes.
// A failure part-way leaves at most a draft, which the next run completes.
func (c *Client) Publish(ctx context.Context, spec ReleaseSpec) (Release, error) {
	if spec.Tag == "" {
		return Release{}, errors.New("release needs a tag: give --tag")
	}
	if !shaRe.MatchString(spec.SHA) {
		return Release{}, fmt.Errorf("release commit %q is not a full 40-character lowercase SHA: give --sha $GITHUB_SHA", spec.SHA)
	}
	if spec.Name == "" {
		spec.Name = spec.Tag
	}
	assets := withSums(spec.Assets)
	if err := c.checkTag(ctx, spec.Tag, spec.SHA); err != nil {
		return Release{}, err
	}
	rel, err := c.findOrCreate(ctx, spec)
	if err != nil {
		return Release{}, err
	}
	if err := c.syncAssets(ctx, rel, assets); err != nil {
		if spec.Cleanup && rel.GetDraft() {
			if _, derr := c.gh.Repositories.DeleteRelease(ctx, c.owner, c.repo, rel.GetID()); derr != nil {
				c.log.Warn("could not delete the draft release after a failure", "tag", spec.Tag, "error", derr)
			}
		}
		return Release{}, fmt.Errorf("release %s: %w (a draft is left; re-run to complete it, or pass --cleanup to delete it)", spec.Tag, err)
	}
	if spec.Draft {
		if rel.GetDraft() {
			c.log.Info("draft release ready; publish it once the image is verified", "tag", spec.Tag, "id", rel.GetID())
		}
		return toRelease(rel), nil
	}
	if rel.GetDraft() {
		// The tag may have appeared meanwhile: publishing would attach the
		// release to it, so check again.
		if err := c.checkTag(ctx, spec.Tag, spec.SHA); err != nil {
			return Release{}, err
		}
	}
	latest := gh.String("false")
	if spec.MakeLatest && !spec.Prerelease {
		latest = gh.String("true")
	}
	switch {
	case rel.GetDraft():
		rel, _, err = c.gh.Repositories.EditRelease(ctx, c.owner, c.repo, rel.GetID(), &gh.RepositoryRelease{Draft: gh.Bool(false), MakeLatest: latest})
	case *latest == "true":
		rel, _, err = c.gh.Repositories.EditRelease(ctx, c.owner, c.repo, rel.GetID(), &gh.RepositoryRelease{MakeLatest: latest})
	default: // already published, latest left as it is: re-read for the assets
		rel, _, err = c.gh.Repositories.GetRelease(ctx, c.owner, c.repo, rel.GetID())
	}
	if err != nil {
		return Release{}, fmt.Errorf("publishing release %s: %w (the draft is kept; re-run to complete it)", spec.Tag, err)
	}
	c.log.Info("release published", "tag", spec.Tag, "url", rel.GetHTMLURL())
	return toRelease(rel), nil
}

func (c *Client) checkTag(ctx context.Context, tag, sha string) error {
	got, ok, err := c.TagCommit(ctx, tag)
	if err != nil {
		return err
	}
	if ok && got != sha {
		return &TagConflictError{Tag: tag, Want: sha, Got: got}
	}
	return nil
}

// findOrCreate returns the release for the tag, creating a draft when there
// is none. Extra drafts for the tag (from a retried create) are deleted.
func (c *Client) findOrCreate(ctx context.Context, spec ReleaseSpec) (*gh.RepositoryRelease, error) {
	rels, err := c.listReleases(ctx)
	if err != nil {
		return nil, err
	}
	rel := pickRelease(rels, spec.Tag)
	for _, r := range rels {
		if r.GetTagName() == spec.Tag && r != rel && r.GetDraft() {
			c.log.Info("deleting a duplicate draft release", "tag", spec.Tag, "id", r.GetID())
			if _, err := c.gh.Repositories.DeleteRelease(ctx, c.owner, c.repo, r.GetID()); err != nil && !isNotFound(err) {
				return nil, fmt.Errorf("deleting duplicate draft release %d for %s: %w", r.GetID(), spec.Tag, err)
			}
		}
	}
	if rel != nil && rel.GetDraft() && spec.Cleanup {
		c.log.Info("deleting the leftover draft release (--cleanup)", "tag", spec.Tag, "id", rel.GetID())
		if _, err := c.gh.Repositories.DeleteRelease(ctx, c.owner, c.repo, rel.GetID()); err != nil && !isNotFound(err) {
			return nil, fmt.Errorf("deleting leftover draft release for %s: %w", spec.Tag, err)
		}
		rel = nil
	}
	want := &gh.RepositoryRelease{
		TagName: gh.String(spec.Tag), TargetCommitish: gh.String(spec.SHA), Name: gh.String(spec.Name),
		Body: gh.String(spec.Body), Prerelease: gh.Bool(spec.Prerelease),
	}
	if rel == nil {
		want.Draft = gh.Bool(true)
		created, _, err := c.gh.Repositories.CreateRelease(ctx, c.owner, c.repo, want)
		if isAlreadyExists(err) {
			// An earlier attempt of this very call may have landed.
			if rels, lerr := c.listReleases(ctx); lerr == nil {
				if r := pickRelease(rels, spec.Tag); r != nil {
					return r, nil
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("creating draft release %s: %w", spec.Tag, err)
		}
		c.log.Info("draft release created", "tag", spec.Tag, "id", created.GetID())
		return created, nil
	}
	if rel.GetDraft() && (rel.GetTargetCommitish() != spec.SHA || rel.GetName() != spec.Name || rel.GetBody() != spec.Body || rel.GetPrerelease() != spec.Prerelease) {
		edited, _, err := c.gh.Repositories.EditRelease(ctx, c.owner, c.repo, rel.GetID(), want)
		if err != nil {
			return nil, fmt.Errorf("updating draft release %s: %w", spec.Tag, err)
		}
		rel = edited
	}
	c.log.Info("reusing existing release", "tag", spec.Tag, "id", rel.GetID(), "draft", rel.GetDraft())
	return rel, nil
}

// syncAssets makes the release's assets exactly want. It trusts an
// existing SHA256SUMS for the digests of the other assets, an invariant it
// keeps by deleting SHA256SUMS before changing any asset and uploading it
// last; without one it downloads same-size assets to compare.
func (c *Client) syncAssets(ctx context.Context, rel *gh.RepositoryRelease, want []Asset) error {
	existing, err := c.listAssets(ctx, rel.GetID())
	if err != nil {
		return err
	}
	byName := map[string]*gh.ReleaseAsset{}
	for _, e := range existing {
		byName[e.GetName()] = e
	}
	var oldSums map[string]string
	if e := byName[SumsName]; e != nil && e.GetState() == "uploaded" {
		if b, err := c.downloadAsset(ctx, e.GetID()); err == nil {
			oldSums = parseSums(b)
		}
	}
	same := func(a Asset, e *gh.ReleaseAsset) (bool, error) {
		if e.GetState() != "uploaded" || e.GetSize() != len(a.Data) {
			return false, nil
		}
		if a.Name != SumsName && oldSums != nil {
			return oldSums[a.Name] == digest(a.Data), nil
		}
		b, err := c.downloadAsset(ctx, e.GetID())
		if err != nil {
			return false, err
		}
		return bytes.Equal(b, a.Data), nil
	}
	var uploads []Asset
	var deletes []*gh.ReleaseAsset
	wanted := map[string]bool{}
	for _, a := range want {
		wanted[a.Name] = true
		if a.Name == SumsName {
			continue
		}
		e := byName[a.Name]
		if e == nil {
			uploads = append(uploads, a)
			continue
		}
		ok, err := same(a, e)
		if err != nil {
			return err
		}
		if !ok {
			deletes = append(deletes, e)
			uploads = append(uploads, a)
		}
	}
	for _, e := range existing {
		if !wanted[e.GetName()] {
			deletes = append(deletes, e)
		}
	}
	sums := want[len(want)-1]
	if e := byName[SumsName]; e != nil {
		keep := len(uploads) == 0 && len(deletes) == 0
		if keep {
			ok, err := same(sums, e)
			if err != nil {
				return err
			}
			keep = ok
		}
		if !keep {
			// First, so that a SHA256SUMS present always tells the truth.
			deletes = append([]*gh.ReleaseAsset{e}, deletes...)
			uploads = append(uploads, sums)
		}
	} else {
		uploads = append(uploads, sums)
	}
	for _, e := range deletes {
		c.log.Info("deleting release asset", "name", e.GetName())
		if _, err := c.gh.Repositories.DeleteReleaseAsset(ctx, c.owner, c.repo, e.GetID()); err != nil && !isNotFound(err) {
			return fmt.Errorf("deleting outdated asset %s: %w", e.GetName(), err)
		}
	}
	for _, a := range uploads {
		if err := c.upload(ctx, rel, a); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) listAssets(ctx context.Context, id int64) ([]*gh.ReleaseAsset, error) {
	as, err := listAll(ctx, func(opt gh.ListOptions) ([]*gh.ReleaseAsset, *gh.Response, error) {
		return c.gh.Repositories.ListReleaseAssets(ctx, c.owner, c.repo, id, &opt)
	})
	if err != nil {
		return nil, fmt.Errorf("listing assets of release %d: %w", id, err)
	}
	return as, nil
}

func contentType(name string) string {
	switch {
	case strings.HasSuffix(name, ".json"):
		return "application/json"
	case strings.HasSuffix(name, ".md"):
		return "text/markdown; charset=utf-8"
	case name == SumsName:
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// upload attaches a; when an asset of that name appeared (an earlier
// attempt that landed after all), it is replaced once.
func (c *Client) upload(ctx context.Context, rel *gh.RepositoryRelease, a Asset) error {
	err := c.uploadOnce(ctx, rel, a)
	if !isAlreadyExists(err) {
		return err
	}
	existing, lerr := c.listAssets(ctx, rel.GetID())
	if lerr != nil {
		return lerr
	}
	for _, e := range existing {
		if e.GetName() == a.Name {
			if _, err := c.gh.Repositories.DeleteReleaseAsset(ctx, c.owner, c.repo, e.GetID()); err != nil && !isNotFound(err) {
				return fmt.Errorf("replacing asset %s: %w", a.Name, err)
			}
		}
	}
	return c.uploadOnce(ctx, rel, a)
}

func (c *Client) uploadOnce(ctx context.Context, rel *gh.RepositoryRelease, a Asset) error {
	u := rel.GetUploadURL()
	if i := strings.IndexByte(u, '{'); i >= 0 {
		u = u[:i]
	}
	if u == "" {
		u = fmt.Sprintf("repos/%s/%s/releases/%d/assets", c.owner, c.repo, rel.GetID())
	}
	u += "?name=" + url.QueryEscape(a.Name)
	req, err := c.gh.NewUploadRequest(u, bytes.NewReader(a.Data), int64(len(a.Data)), contentType(a.Name))
	if err != nil {
		return fmt.Errorf("preparing upload of %s: %w", a.Name, err)
	}
	c.log.Info("uploading release asset", "name", a.Name, "bytes", len(a.Data))
	if _, err := c.gh.Do(ctx, req, new(gh.ReleaseAsset)); err != nil {
		return fmt.Errorf("uploading asset %s: %w", a.Name, err)
	}
	return nil
}
