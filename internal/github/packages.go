package github

import (
	"context"
	"fmt"
	"net/url"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// PackageVersion is one version of a container package on GHCR: a manifest
// digest with its tags (none for the platform images of an index).
type PackageVersion struct {
	ID      int64
	Digest  string // the version's name
	Tags    []string
	Created time.Time
}

// ListPackageVersions lists every version of the container package pkg
// (e.g. "model" for ghcr.io/owner/model) owned by owner, an organization
// or a user.
func (c *Client) ListPackageVersions(ctx context.Context, owner, pkg string) ([]PackageVersion, error) {
	org, err := c.isOrg(ctx, owner)
	if err != nil {
		return nil, err
	}
	vs, err := listAll(ctx, func(opt gh.ListOptions) ([]*gh.PackageVersion, *gh.Response, error) {
		o := &gh.PackageListOptions{ListOptions: opt}
		if org {
			return c.gh.Organizations.PackageGetAllVersions(ctx, owner, "container", pkg, o)
		}
		return c.gh.Users.PackageGetAllVersions(ctx, owner, "container", url.PathEscape(pkg), o)
	})
	if err != nil {
		return nil, fmt.Errorf("listing versions of package %s/%s (the token needs read:packages): %w", owner, pkg, err)
	}
	out := make([]PackageVersion, 0, len(vs))
	for _, v := range vs {
		pv := PackageVersion{ID: v.GetID(), Digest: v.GetName(), Created: v.GetCreatedAt().Time}
		if m := v.GetMetadata(); m != nil && m.Container != nil {
			pv.Tags = m.Container.Tags
		}
		out = append(out, pv)
	}
	return out, nil
}

// DeletePackageVersion deletes one version of a container package.
func (c *Client) DeletePackageVersion(ctx context.Context, owner, pkg string, id int64) error {
	org, err := c.isOrg(ctx, owner)
	if err != nil {
		return err
	}
	if org {
		_, err = c.gh.Organizations.PackageDeleteVersion(ctx, owner, "container", pkg, id)
	} else {
		_, err = c.gh.Users.PackageDeleteVersion(ctx, owner, "container", url.PathEscape(pkg), id)
	}
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting version %d of package %s/%s (the token needs delete:packages): %w", id, owner, pkg, err)
	}
	return nil
}

// isOrg tells organizations from users, whose package endpoints differ.
func (c *Client) isOrg(ctx context.Context, owner string) (bool, error) {
	u, _, err := c.gh.Users.Get(ctx, owner)
	if err != nil {
		return false, fmt.Errorf("looking up owner %s: %w", owner, err)
	}
	return u.GetType() == "Organization", nil
}

// PullRequestClosed says whether pull request number is closed and when.
func (c *Client) PullRequestClosed(ctx context.Context, number int) (bool, time.Time, error) {
	pr, _, err := c.gh.PullRequests.Get(ctx, c.owner, c.repo, number)
	if isNotFound(err) {
		return false, time.Time{}, nil
	}
	if err != nil {
		return false, time.Time{}, fmt.Errorf("reading pull request #%d: %w", number, err)
	}
	return pr.GetState() == "closed", pr.GetClosedAt().Time, nil
}
