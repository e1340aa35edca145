package promote

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/model-release/model-release/internal/github"
)

// registryAPI is what RegistryImages needs; registry.Pusher implements it.
type registryAPI interface {
	ListTags(ctx context.Context, repo string) ([]string, error)
	Digest(ctx context.Context, ref string) (string, error)
	Children(ctx context.Context, ref string) ([]string, error)
	Delete(ctx context.Context, ref string) error
}

// RegistryImages lists and deletes images through the registry API (any
// registry but GHCR).
type RegistryImages struct {
	Registry registryAPI
	Image    string // repository
}

// Images resolves every tag and groups the tags by digest, in tag order.
func (r RegistryImages) Images(ctx context.Context) ([]Image, error) {
	tags, err := r.Registry.ListTags(ctx, r.Image)
	if err != nil {
		return nil, err
	}
	var out []Image
	at := map[string]int{}
	for _, t := range tags {
		d, err := r.Registry.Digest(ctx, r.Image+":"+t)
		if err != nil {
			return nil, err
		}
		i, ok := at[d]
		if !ok {
			kids, err := r.Registry.Children(ctx, r.Image+"@"+d)
			if err != nil {
				return nil, err
			}
			i = len(out)
			at[d] = i
			out = append(out, Image{Digest: d, Children: kids})
		}
		out[i].Tags = append(out[i].Tags, t)
	}
	return out, nil
}

// Delete removes the manifest by digest. Registries that keep tags as
// separate entries get each tag deleted first; those that refuse tag
// deletes (Distribution) drop the tags with the digest, so a refusal there
// is ignored.
func (r RegistryImages) Delete(ctx context.Context, img Image) error {
	for _, t := range img.Tags {
		_ = r.Registry.Delete(ctx, r.Image+":"+t)
	}
	return r.Registry.Delete(ctx, r.Image+"@"+img.Digest)
}

// packagesAPI is the GitHub Packages API for containers.
type packagesAPI interface {
	ListPackageVersions(ctx context.Context, owner, pkg string) ([]github.PackageVersion, error)
	DeletePackageVersion(ctx context.Context, owner, pkg string, id int64) error
}

// childrenAPI reads the manifests an index lists.
type childrenAPI interface {
	Children(ctx context.Context, ref string) ([]string, error)
}

// GHCRImages lists and deletes images of ghcr.io/OWNER/PACKAGE through
// the GitHub Packages API (GHCR refuses registry-API deletes).
type GHCRImages struct {
	Packages packagesAPI
	Registry childrenAPI
	Image    string // ghcr.io/owner/package
}

func (g GHCRImages) split() (owner, pkg string, err error) {
	rest, ok := strings.CutPrefix(g.Image, "ghcr.io/")
	owner, pkg, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || owner == "" || pkg == "" {
		return "", "", fmt.Errorf("image %q is not ghcr.io/owner/package", g.Image)
	}
	return owner, pkg, nil
}

// Images lists the package versions; an index's children are read from
// the registry.
func (g GHCRImages) Images(ctx context.Context) ([]Image, error) {
	owner, pkg, err := g.split()
	if err != nil {
		return nil, err
	}
	vs, err := g.Packages.ListPackageVersions(ctx, owner, pkg)
	if err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(vs))
	for _, v := range vs {
		img := Image{Digest: v.Digest, Tags: v.Tags, ID: v.ID}
		if len(v.Tags) > 0 {
			if img.Children, err = g.Registry.Children(ctx, g.Image+"@"+v.Digest); err != nil {
				return nil, err
			}
		}
		out = append(out, img)
	}
	return out, nil
}

// Delete deletes the package version.
func (g GHCRImages) Delete(ctx context.Context, img Image) error {
	owner, pkg, err := g.split()
	if err != nil {
		return err
	}
	if img.ID == 0 {
		return fmt.Errorf("image %s has no package version id", img.Digest)
	}
	return g.Packages.DeletePackageVersion(ctx, owner, pkg, img.ID)
}

// prClient is the GitHub call behind PRs.
type prClient interface {
	PullRequestClosed(ctx context.Context, number int) (closed bool, at time.Time, err error)
}

// GitHubPRs adapts the GitHub client to PullRequests.
type GitHubPRs struct{ GitHub prClient }

// ClosedAt says whether and when pull request number was closed.
func (g GitHubPRs) ClosedAt(ctx context.Context, number int) (bool, time.Time, error) {
	return g.GitHub.PullRequestClosed(ctx, number)
}
