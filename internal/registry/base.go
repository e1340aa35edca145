package registry

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type base struct {
	image v1.Image
	index v1.ImageIndex
	empty bool
}

// loadBase resolves --base: "" or "none" is nothing (FROM scratch), "oci:DIR"
// an OCI layout whose index.json names one image or index, anything else a
// registry reference.
func loadBase(ctx context.Context, ref string, s *settings) (*base, error) {
	switch {
	case ref == "" || ref == "none" || ref == "scratch":
		return &base{image: empty.Image, empty: true}, nil
	case strings.HasPrefix(ref, "oci:"):
		dir := strings.TrimPrefix(ref, "oci:")
		idx, err := layout.ImageIndexFromPath(dir)
		if err != nil {
			return nil, fmt.Errorf("base %q: reading OCI layout: %w", ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("base %q: %w", ref, err)
		}
		if len(im.Manifests) != 1 {
			return &base{index: idx}, nil // several images: treat the layout as the index
		}
		d := im.Manifests[0]
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("base %q: %w", ref, err)
			}
			return &base{index: child}, nil
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("base %q: %w", ref, err)
		}
		return &base{image: img}, nil
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("base %q is not an image reference, \"oci:DIR\" or \"none\": %w", ref, err)
	}
	desc, err := remote.Get(r, s.remoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("pulling base %s: %w", ref, err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("base %s: %w", ref, err)
		}
		return &base{index: idx}, nil
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", ref, err)
	}
	return &base{image: img}, nil
}
