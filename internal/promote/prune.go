package promote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/model-release/model-release/internal/github"
	"github.com/model-release/model-release/internal/promote/retention"
	"github.com/model-release/model-release/internal/version"
)

// Image is one manifest of the image repository with its tags.
type Image struct {
	Digest   string
	Tags     []string
	Children []string // manifests an index lists
	ID       int64    // the GitHub package version id (GHCR), else 0
}

// ImageStore lists and deletes the images of one repository: through the
// registry API, or through the GitHub Packages API for GHCR, which does
// not allow registry deletes.
type ImageStore interface {
	Images(ctx context.Context) ([]Image, error)
	Delete(ctx context.Context, img Image) error
}

// PullRequests says whether and when a pull request was closed.
type PullRequests interface {
	ClosedAt(ctx context.Context, number int) (closed bool, at time.Time, err error)
}

// pruneReleases is what pruning needs of GitHub releases.
type pruneReleases interface {
	ListReleases(ctx context.Context) ([]github.Release, error)
	DeleteRelease(ctx context.Context, tag string, deleteTag bool) error
}

// Pruner plans and applies retention.
type Pruner struct {
	GitHub    pruneReleases
	Images    ImageStore
	PRs       PullRequests // nil: pr-* images are kept
	Policy    retention.Policy
	TagPrefix string
	Channels  []string
	Now       func() time.Time
	Log       *slog.Logger
}

// ImageAction is an image to delete and why.
type ImageAction struct {
	Image
	Why string
}

// PrunePlan is what prune would do.
type PrunePlan struct {
	Versions       []retention.Decision
	DeleteImages   []ImageAction
	KeptImages     int
	DeleteReleases []string // release tags
}

// Tag kinds, from what their name says.
func isReferrerTag(t string) bool {
	return strings.HasPrefix(t, "sha256-") || strings.HasSuffix(t, ".sig")
}

func prNumber(t string) (int, bool) {
	s, ok := strings.CutPrefix(t, "pr-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}

func isShaTag(t string) bool {
	s, ok := strings.CutPrefix(t, "sha-")
	return ok && len(s) >= 7 && strings.Trim(s, "0123456789abcdef") == ""
}

// Plan decides what to keep. It deletes an image only when each of its
// tags is a version that retention drops or a pr-N of a pull request
// closed more than KeepDays ago (sha-* tags go along); an image with a
// channel tag, a referrer tag (sha256-*, *.sig), a tag it does not
// understand, or listed by a kept index is kept. Untagged images are
// deleted only as children of a deleted index that no kept index lists.
func (p *Pruner) Plan(ctx context.Context, h History) (PrunePlan, error) {
	now := time.Now().UTC()
	if p.Now != nil {
		now = p.Now().UTC()
	}
	rels, err := p.GitHub.ListReleases(ctx)
	if err != nil {
		return PrunePlan{}, err
	}
	imgs, err := p.Images.Images(ctx)
	if err != nil {
		return PrunePlan{}, err
	}

	// Versions and the channels pointing at them: by the history, and by
	// the channel tags in the registry (which the history may not know of,
	// e.g. candidate, tagged at push).
	byTag := map[string]*Image{}
	for i := range imgs {
		for _, t := range imgs[i].Tags {
			byTag[t] = &imgs[i]
		}
	}
	channelsOf := map[string][]string{} // version -> channels
	for ch, m := range h.Targets() {
		channelsOf[m.Version] = append(channelsOf[m.Version], ch)
	}
	versionTags := map[string]string{} // image tag -> version
	releaseOf := map[string]string{}   // version -> release tag
	var versions []retention.Version
	last := h.LastTargeted(now)
	for _, r := range rels {
		if r.Draft || r.Tag == HistoryTag {
			continue
		}
		if _, ok := version.Parse(r.Tag, p.TagPrefix); !ok {
			continue
		}
		v := strings.TrimPrefix(r.Tag, p.TagPrefix)
		versionTags[versionTag(v)] = v
		releaseOf[v] = r.Tag
		versions = append(versions, retention.Version{Name: v, Created: r.Created, LastTargeted: last[v]})
	}
	for _, ch := range p.Channels {
		img := byTag[ch]
		if img == nil {
			continue
		}
		for _, t := range img.Tags {
			if v, ok := versionTags[t]; ok && !slices.Contains(channelsOf[v], ch) {
				channelsOf[v] = append(channelsOf[v], ch)
			}
		}
	}
	for i := range versions {
		versions[i].Channels = channelsOf[versions[i].Name]
		if len(versions[i].Channels) > 0 {
			versions[i].LastTargeted = now
		}
	}
	plan := PrunePlan{Versions: retention.Plan(now, p.Policy, versions)}
	drop := map[string]bool{}
	for _, d := range plan.Versions {
		if !d.Keep {
			drop[d.Name] = true
			plan.DeleteReleases = append(plan.DeleteReleases, releaseOf[d.Name])
		}
	}

	cutoff := now.Add(-time.Duration(p.Policy.KeepDays) * retention.Day)
	deletable := func(img Image) (bool, string, error) {
		var why []string
		for _, t := range img.Tags {
			switch {
			case slices.Contains(p.Channels, t):
				return false, "", nil
			case isReferrerTag(t):
				return false, "", nil
			case isShaTag(t):
			case versionTags[t] != "":
				if !drop[versionTags[t]] {
					return false, "", nil
				}
				why = append(why, "version "+versionTags[t]+" pruned")
			default:
				n, ok := prNumber(t)
				if !ok || p.PRs == nil {
					return false, "", nil // a tag we do not manage
				}
				closed, at, err := p.PRs.ClosedAt(ctx, n)
				if err != nil {
					return false, "", err
				}
				if !closed || at.After(cutoff) {
					return false, "", nil
				}
				why = append(why, fmt.Sprintf("pull request #%d closed %s", n, at.Format("2006-01-02")))
			}
		}
		return len(why) > 0, strings.Join(why, ", "), nil
	}
	del := map[string]string{}
	for _, img := range imgs {
		if len(img.Tags) == 0 {
			continue
		}
		ok, why, err := deletable(img)
		if err != nil {
			return PrunePlan{}, err
		}
		if ok {
			del[img.Digest] = why
		}
	}
	// Anything a kept image lists stays; children of deleted indexes go
	// with them when nothing kept lists them.
	protected := map[string]bool{}
	for _, img := range imgs {
		if _, gone := del[img.Digest]; !gone && len(img.Tags) > 0 {
			for _, c := range img.Children {
				protected[c] = true
			}
		}
	}
	known := map[string]Image{}
	for _, img := range imgs {
		known[img.Digest] = img
	}
	for _, img := range imgs {
		why, gone := del[img.Digest]
		if !gone || protected[img.Digest] {
			plan.KeptImages++
			continue
		}
		plan.DeleteImages = append(plan.DeleteImages, ImageAction{Image: img, Why: why})
		for _, c := range img.Children {
			child, listed := known[c]
			if _, already := del[c]; already || protected[c] || len(child.Tags) > 0 {
				continue
			}
			if !listed {
				child = Image{Digest: c} // registries that list tags only
			}
			del[c] = "listed by a deleted index"
			plan.DeleteImages = append(plan.DeleteImages, ImageAction{Image: child, Why: del[c] + " (" + why + ")"})
		}
	}
	// Untagged images counted above as kept but deleted as children.
	for _, a := range plan.DeleteImages {
		if _, listed := known[a.Digest]; listed && len(a.Tags) == 0 {
			plan.KeptImages--
		}
	}
	sort.Strings(plan.DeleteReleases)
	return plan, nil
}

// Apply carries the plan out: images first, then (with releases) the
// GitHub Releases of dropped versions. Git tags stay, so versioning still
// sees every version ever released. It goes on after a failed delete and
// reports them all.
func (p *Pruner) Apply(ctx context.Context, plan PrunePlan, releases bool) error {
	log := p.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var errs []error
	for _, a := range plan.DeleteImages {
		if err := p.Images.Delete(ctx, a.Image); err != nil {
			errs = append(errs, fmt.Errorf("deleting image %s: %w", a.Digest, err))
			continue
		}
		log.Info("deleted image", "digest", a.Digest, "tags", strings.Join(a.Tags, ","), "why", a.Why)
	}
	if releases {
		for _, tag := range plan.DeleteReleases {
			if tag == HistoryTag {
				continue
			}
			if err := p.GitHub.DeleteRelease(ctx, tag, false); err != nil {
				errs = append(errs, err)
				continue
			}
			log.Info("deleted release", "tag", tag)
		}
	}
	return errors.Join(errs...)
}

// Write prints the plan for people: versions with their verdict, then the
// images and releases to delete.
func (plan PrunePlan) Write(w io.Writer, releases bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tCREATED\tKEEP\tWHY")
	for _, d := range plan.Versions {
		keep := "keep"
		if !d.Keep {
			keep = "delete"
		}
		why := d.Reason
		if len(d.Channels) > 0 {
			why += " (" + strings.Join(d.Channels, ",") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Name, d.Created.UTC().Format("2006-01-02"), keep, why)
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "images to delete: %d (kept: %d)\n", len(plan.DeleteImages), plan.KeptImages)
	for _, a := range plan.DeleteImages {
		tags := strings.Join(a.Tags, ",")
		if tags == "" {
			tags = "(untagged)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", shortDigest(a.Digest), tags, a.Why)
	}
	if releases {
		fmt.Fprintf(tw, "releases to delete: %d\n", len(plan.DeleteReleases))
		for _, t := range plan.DeleteReleases {
			fmt.Fprintf(tw, "  %s\n", t)
		}
	}
	return tw.Flush()
}
