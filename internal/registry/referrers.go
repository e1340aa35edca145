package registry

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Children lists the manifests an index at ref (repo:tag or repo@digest)
// refers to; an image manifest has none. Pruning must keep them while the
// index is kept, and registries such as GHCR list them as separate,
// untagged versions.
func (p *Pusher) Children(ctx context.Context, ref string) ([]string, error) {
	r, err := p.ref(ref)
	if err != nil {
		return nil, err
	}
	desc, err := remoteGet(ctx, p, r)
	if err != nil {
		return nil, p.explain("reading "+r.String(), r.Context(), err)
	}
	if !desc.MediaType.IsIndex() {
		return nil, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, p.explain("reading index "+r.String(), r.Context(), err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, p.explain("reading index "+r.String(), r.Context(), err)
	}
	out := make([]string, 0, len(m.Manifests))
	for _, d := range m.Manifests {
		out = append(out, d.Digest.String())
	}
	return out, nil
}

func remoteGet(ctx context.Context, p *Pusher, r name.Reference) (*remote.Descriptor, error) {
	return remote.Get(r, p.s.remoteOptions(ctx)...)
}
