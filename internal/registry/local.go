package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// refNameKey names an image in an OCI layout's index.json.
const refNameKey = "org.opencontainers.image.ref.name"

// WriteLayout writes the artifact into an OCI image layout folder (created
// if needed; blobs already there are kept), named by tag in index.json.
func WriteLayout(art *Artifact, dir, tag string) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return fmt.Errorf("creating OCI layout %s: %w", dir, err)
		}
	}
	var opts []layout.Option
	if tag != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{refNameKey: tag}))
	}
	if art.idx != nil {
		err = p.AppendIndex(art.idx, opts...)
	} else {
		err = p.AppendImage(art.img, opts...)
	}
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	return nil
}

// WriteTarball writes a single-platform image as a `docker load` tarball
// tagged ref (e.g. ghcr.io/owner/name:1.2.3).
func WriteTarball(art *Artifact, path, ref string) error {
	if art.idx != nil {
		return errors.New("a tarball holds one image but this is a multi-platform index: use --oci-layout instead")
	}
	t, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("tarball tag %q: %w", ref, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating tarball: %w", err)
	}
	if err := tarball.Write(t, art.img, f); err != nil {
		f.Close()
		return fmt.Errorf("writing tarball %s: %w", path, err)
	}
	return f.Close()
}

// NopPusher is the dry-run twin of Pusher.Push: it computes the digest and
// says what would be pushed, touching no registry.
type NopPusher struct{ Log *slog.Logger }

// Push returns the result a real push would have, without pushing.
func (n NopPusher) Push(_ context.Context, art *Artifact, image string, tags []string) (*PushResult, error) {
	repo, err := Repository(image)
	if err != nil {
		return nil, err
	}
	d, err := art.Digest()
	if err != nil {
		return nil, err
	}
	if n.Log != nil {
		n.Log.Info("would push", "image", repo, "digest", d, "tags", tags)
	}
	return &PushResult{Repository: repo, Digest: d, Tags: append([]string(nil), tags...), Ref: repo + "@" + d}, nil
}
