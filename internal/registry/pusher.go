package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Pusher talks to a registry: push, tag, look up, list, delete, pull.
type Pusher struct {
	s *settings
}

// NewPusher returns a Pusher; see the With* options.
func NewPusher(opts ...Option) *Pusher { return &Pusher{s: newSettings(opts)} }

// PushResult says where an artifact went.
type PushResult struct {
	Repository string   // normalized, e.g. ghcr.io/owner/name
	Digest     string   // sha256:...
	Tags       []string // tags pointing at Digest
	Ref        string   // Repository@Digest, the immutable reference
}

// CheckPush fails in seconds when the credentials cannot push to the
// repository, before any work is done (a preflight).
func (p *Pusher) CheckPush(ctx context.Context, image string) error {
	repo, err := p.repo(image)
	if err != nil {
		return err
	}
	if err := remote.CheckPushPermission(repo.Tag("preflight"), p.s.keychain(), p.s.transport); err != nil {
		return p.explain(fmt.Sprintf("checking push permission for %s", repo), repo, err)
	}
	return nil
}

// Push uploads the artifact (blobs the registry already has are skipped)
// and points every tag at it. With no tags it is pushed by digest only.
func (p *Pusher) Push(ctx context.Context, art *Artifact, image string, tags []string) (*PushResult, error) {
	repo, err := p.repo(image)
	if err != nil {
		return nil, err
	}
	for _, t := range tags {
		if !ValidTag(t) {
			return nil, fmt.Errorf("tag %q is not valid: use letters, digits, _ . - (see registry.VersionTag)", t)
		}
	}
	dig, err := art.digest()
	if err != nil {
		return nil, fmt.Errorf("computing digest: %w", err)
	}
	var first name.Reference = repo.Digest(dig.String())
	if len(tags) > 0 {
		first = repo.Tag(tags[0])
	}
	start := time.Now()
	opts := p.s.remoteOptions(ctx)
	done := make(chan struct{})
	if p.s.progress != nil {
		updates := make(chan v1.Update, 16)
		opts = append(opts, remote.WithProgress(updates))
		go p.report(updates, done)
	} else {
		close(done)
	}
	if art.idx != nil {
		err = remote.WriteIndex(first, art.idx, opts...)
	} else {
		err = remote.Write(first, art.img, opts...)
	}
	<-done
	if err != nil {
		return nil, p.explain("pushing "+first.String(), repo, err)
	}
	for _, t := range tags[min(1, len(tags)):] {
		if err := p.retag(ctx, repo, dig.String(), t); err != nil {
			return nil, err
		}
	}
	p.s.log.Info("pushed", "image", repo.String(), "digest", dig.String(), "tags", strings.Join(tags, ","), "seconds", time.Since(start).Round(time.Millisecond).Seconds())
	return &PushResult{Repository: repo.String(), Digest: dig.String(), Tags: append([]string(nil), tags...), Ref: repo.String() + "@" + dig.String()}, nil
}

func (p *Pusher) report(updates <-chan v1.Update, done chan<- struct{}) {
	defer close(done)
	var last v1.Update
	for u := range updates {
		last = u
		if u.Error == nil {
			fmt.Fprintf(p.s.progress, "\rpushing: %s / %s", mib(u.Complete), mib(u.Total))
		}
	}
	if last.Total > 0 {
		fmt.Fprintln(p.s.progress)
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// Tag points tag at an existing digest of the repository named by ref,
// without pushing any blob again (promotion between channels).
func (p *Pusher) Tag(ctx context.Context, ref, digest, tag string) error {
	repo, err := p.repo(repoPart(ref))
	if err != nil {
		return err
	}
	if !ValidTag(tag) {
		return fmt.Errorf("tag %q is not valid: use letters, digits, _ . - (see registry.VersionTag)", tag)
	}
	return p.retag(ctx, repo, digest, tag)
}

func (p *Pusher) retag(ctx context.Context, repo name.Repository, digest, tag string) error {
	d, err := name.NewDigest(repo.String()+"@"+digest, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("digest %q is not of the form sha256:<64 hex>: %w", digest, err)
	}
	desc, err := remote.Get(d, p.s.remoteOptions(ctx)...)
	if err != nil {
		return p.explain("reading "+d.String()+" to tag it", repo, err)
	}
	if err := remote.Tag(repo.Tag(tag), desc, p.s.remoteOptions(ctx)...); err != nil {
		return p.explain(fmt.Sprintf("tagging %s as %s", digest, tag), repo, err)
	}
	return nil
}

// Digest returns the manifest digest that ref (repo:tag or repo@digest)
// points at.
func (p *Pusher) Digest(ctx context.Context, ref string) (string, error) {
	r, err := p.ref(ref)
	if err != nil {
		return "", err
	}
	desc, err := remote.Head(r, p.s.remoteOptions(ctx)...)
	if err != nil {
		return "", p.explain("looking up "+r.String(), r.Context(), err)
	}
	return desc.Digest.String(), nil
}

// Delete removes ref's manifest (by tag or digest; registries differ in
// which they allow, GHCR in neither: use the GitHub packages API there).
func (p *Pusher) Delete(ctx context.Context, ref string) error {
	r, err := p.ref(ref)
	if err != nil {
		return err
	}
	if err := remote.Delete(r, p.s.remoteOptions(ctx)...); err != nil {
		return p.explain("deleting "+r.String(), r.Context(), err)
	}
	return nil
}

// ListTags lists the tags of a repository.
func (p *Pusher) ListTags(ctx context.Context, image string) ([]string, error) {
	repo, err := p.repo(image)
	if err != nil {
		return nil, err
	}
	tags, err := remote.List(repo, p.s.remoteOptions(ctx)...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return nil, nil // a repository never pushed to has no tags
		}
		return nil, p.explain("listing tags of "+repo.String(), repo, err)
	}
	return tags, nil
}

func (p *Pusher) repo(image string) (name.Repository, error) {
	s, err := Repository(image)
	if err != nil {
		return name.Repository{}, err
	}
	return name.NewRepository(s)
}

// ref parses repo:tag or repo@digest, lowercasing the repository part.
func (p *Pusher) ref(ref string) (name.Reference, error) {
	repoStr := repoPart(ref)
	rest := strings.TrimPrefix(strings.TrimSpace(ref), repoStr)
	repo, err := Repository(repoStr)
	if err != nil {
		return nil, err
	}
	r, err := name.ParseReference(repo + rest)
	if err != nil {
		return nil, fmt.Errorf("reference %q is not repo:tag or repo@sha256:...: %w", ref, err)
	}
	return r, nil
}

// repoPart strips a :tag or @digest from ref.
func repoPart(ref string) string {
	ref = strings.TrimSpace(ref)
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

// explain wraps a registry error, and for a refused login or push says
// what permission is missing.
func (p *Pusher) explain(what string, repo name.Repository, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return &PermissionError{Repository: repo.String(), Err: fmt.Errorf("%s: %w", what, err)}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// PermissionError is a registry refusing the credentials or the push.
type PermissionError struct {
	Repository string
	Err        error
}

func (e *PermissionError) Error() string {
	hint := "log in (docker login, or --registry-username with MODEL_RELEASE_REGISTRY_PASSWORD) with an account that may push there"
	if strings.HasPrefix(e.Repository, "ghcr.io/") {
		hint = "the workflow needs `permissions: packages: write` and the package must grant this repository write access (package settings > Manage Actions access)"
	}
	return fmt.Sprintf("%v; the registry refused access to %s: %s", e.Err, e.Repository, hint)
}

func (e *PermissionError) Unwrap() error { return e.Err }
