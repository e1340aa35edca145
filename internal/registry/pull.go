package registry

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PullModel writes the model folder of the image or ModelPack artifact at
// ref (a tag or, better, a digest) into destDir: the files under /model/ of
// an image, or the named layers of a ModelPack artifact. For an index the
// first platform is read; every platform carries the same model layer.
func (p *Pusher) PullModel(ctx context.Context, ref, destDir string) error {
	r, err := p.ref(ref)
	if err != nil {
		return err
	}
	desc, err := remote.Get(r, p.s.remoteOptions(ctx)...)
	if err != nil {
		return p.explain("pulling "+r.String(), r.Context(), err)
	}
	img, err := imageOf(desc)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", r, err)
	}
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return fmt.Errorf("creating model folder: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("reading manifest of %s: %w", r, err)
	}
	if m.ArtifactType == ModelPackArtifactType || string(m.Config.MediaType) == ModelPackConfigType {
		return pullModelPack(img, m, destDir)
	}
	return pullModelLayer(img, m, destDir, r.String())
}

func imageOf(desc *remote.Descriptor) (v1.Image, error) {
	if !desc.MediaType.IsIndex() {
		return desc.Image()
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.MediaType.IsImage() && (d.Platform == nil || d.Platform.OS != "unknown") {
			return idx.Image(d.Digest)
		}
	}
	return nil, errors.New("the index has no image")
}

func pullModelPack(img v1.Image, m *v1.Manifest, destDir string) error {
	n := 0
	for _, d := range m.Layers {
		name := d.Annotations[modelPackFilepath]
		if name == "" {
			continue
		}
		base := path.Base(path.Clean("/" + name))
		if base == "/" || base != strings.TrimPrefix(path.Clean("/"+name), "/") {
			return fmt.Errorf("modelpack layer %s has file path %q outside the model folder: refusing it", d.Digest, name)
		}
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return err
		}
		rc, err := l.Compressed() // raw layers: the blob is the file
		if err != nil {
			return fmt.Errorf("pulling %s: %w", name, err)
		}
		err = writeFile(filepath.Join(destDir, base), rc)
		rc.Close()
		if err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return errors.New("the modelpack artifact has no layer with a file path annotation")
	}
	return nil
}

func pullModelLayer(img v1.Image, m *v1.Manifest, destDir, ref string) error {
	// Our images annotate the model layer; otherwise read all layers from
	// the top, first file wins (the top layer shadows lower ones).
	var candidates []v1.Hash
	for _, d := range m.Layers {
		if d.Annotations[layerRoleKey] == "model" {
			candidates = []v1.Hash{d.Digest}
			break
		}
	}
	if candidates == nil {
		for i := len(m.Layers) - 1; i >= 0; i-- {
			candidates = append(candidates, m.Layers[i].Digest)
		}
	}
	written := map[string]bool{}
	for _, h := range candidates {
		l, err := img.LayerByDigest(h)
		if err != nil {
			return err
		}
		rc, err := l.Uncompressed()
		if err != nil {
			return fmt.Errorf("pulling layer %s: %w", h, err)
		}
		err = extractModel(rc, destDir, written)
		rc.Close()
		if err != nil {
			return fmt.Errorf("extracting layer %s: %w", h, err)
		}
	}
	if !written[WeightsFile] {
		return fmt.Errorf("image %s has no %s/%s: it is not a model image", ref, ModelPath, WeightsFile)
	}
	return nil
}

// extractModel copies regular files directly under model/ into destDir.
// Names are reduced to their base, so no entry can escape destDir.
func extractModel(r io.Reader, destDir string, written map[string]bool) error {
	tr := tar.NewReader(r)
	prefix := strings.TrimPrefix(ModelPath, "/") + "/"
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		n := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if h.Typeflag != tar.TypeReg || !strings.HasPrefix(n, prefix) {
			continue
		}
		base := strings.TrimPrefix(n, prefix)
		if base == "" || strings.Contains(base, "/") || written[base] {
			continue
		}
		if err := writeFile(filepath.Join(destDir, base), tr); err != nil {
			return err
		}
		written[base] = true
	}
}

func writeFile(dst string, r io.Reader) error {
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("writing model file: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	return f.Close()
}

// Verify checks a push: ref must resolve to wantDigest, and the model
// pulled back must hash to the weights of the local model.
func (p *Pusher) Verify(ctx context.Context, ref, wantDigest string, model *ModelInfo) error {
	got, err := p.Digest(ctx, ref)
	if err != nil {
		return fmt.Errorf("verifying push: %w", err)
	}
	if got != wantDigest {
		return fmt.Errorf("verifying push: %s points at %s, not the pushed %s: another push raced this one, or the registry rewrote the manifest", ref, got, wantDigest)
	}
	tmp, err := os.MkdirTemp("", "model-release-verify-")
	if err != nil {
		return fmt.Errorf("verifying push: %w", err)
	}
	defer os.RemoveAll(tmp)
	r, err := p.ref(ref)
	if err != nil {
		return err
	}
	if err := p.PullModel(ctx, r.Context().String()+"@"+wantDigest, tmp); err != nil {
		return fmt.Errorf("verifying push: %w", err)
	}
	pulled, err := ReadModel(tmp) // also checks model.json's weights_sha256 against the file
	if err != nil {
		return fmt.Errorf("verifying push: pulled model: %w", err)
	}
	if pulled.WeightsSHA256 != model.WeightsSHA256 {
		return fmt.Errorf("verifying push: pulled weights hash to %s, the local model to %s", pulled.WeightsSHA256, model.WeightsSHA256)
	}
	p.s.log.Info("verified", "ref", ref, "digest", wantDigest, "weights_sha256", model.WeightsSHA256)
	return nil
}
