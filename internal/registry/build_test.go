package registry

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func buildOpts(model, bin string) BuildOptions {
	return BuildOptions{
		ModelDir: model,
		Binary:   bin,
		Meta: Metadata{
			Source: "https://github.com/Owner/Repo", Revision: "0123456789abcdef0123456789abcdef01234567",
			Version: "1.2.3", Created: testCreated, Title: "cifar10", Licenses: "Apache-2.0", Gate: "passed",
		},
	}
}

func TestBuildIsReproducible(t *testing.T) {
	ctx := context.Background()
	model, bin := writeModel(t, 1), writeBinary(t, "a")
	a1, err := Build(ctx, buildOpts(model, bin))
	must(t, err)
	a2, err := Build(ctx, buildOpts(model, bin))
	must(t, err)
	d1, _ := a1.Digest()
	d2, _ := a2.Digest()
	if d1 != d2 || !strings.HasPrefix(d1, "sha256:") {
		t.Fatalf("same inputs gave digests %s and %s", d1, d2)
	}

	// Copying the model elsewhere (new file times) changes nothing.
	moved := t.TempDir()
	for _, f := range []string{WeightsFile, MetadataFile, MetricsFile, CardFile} {
		b, _ := os.ReadFile(filepath.Join(model, f))
		must(t, os.WriteFile(filepath.Join(moved, f), b, 0o600))
		must(t, os.Chtimes(filepath.Join(moved, f), time.Now(), time.Now()))
	}
	a3, err := Build(ctx, buildOpts(moved, bin))
	must(t, err)
	if d3, _ := a3.Digest(); d3 != d1 {
		t.Fatalf("copied model folder gave %s, want %s", d3, d1)
	}

	// Another commit time changes the config, not the layers.
	o := buildOpts(model, bin)
	o.Meta.Created = testCreated.Add(time.Hour)
	a4, err := Build(ctx, o)
	must(t, err)
	if d4, _ := a4.Digest(); d4 == d1 {
		t.Fatal("a different created time kept the digest: created is not in the config")
	}
	l1, _ := a1.img.Layers()
	l4, _ := a4.img.Layers()
	for i := range l1 {
		h1, _ := l1[i].Digest()
		h4, _ := l4[i].Digest()
		if h1 != h4 {
			t.Errorf("layer %d changed with the created time: %s vs %s", i, h1, h4)
		}
	}
}

func TestImageServesModelAndCarriesLabels(t *testing.T) {
	model, bin := writeModel(t, 1), writeBinary(t, "a")
	art, err := Build(context.Background(), buildOpts(model, bin))
	must(t, err)
	cf, err := art.img.ConfigFile()
	must(t, err)
	c := cf.Config
	if got := strings.Join(c.Entrypoint, " "); got != "/usr/local/bin/model-release serve --model /model" {
		t.Errorf("entrypoint %q", got)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("port 8080/tcp not exposed: %v", c.ExposedPorts)
	}
	if c.User != "65532:65532" || c.WorkingDir != "/" || !strings.HasPrefix(strings.Join(c.Env, " "), "PATH=") {
		t.Errorf("user %q, workdir %q, env %v", c.User, c.WorkingDir, c.Env)
	}
	if !cf.Created.Time.Equal(testCreated) || cf.OS != "linux" {
		t.Errorf("created %v os %s", cf.Created, cf.OS)
	}
	info, err := ReadModel(model)
	must(t, err)
	want := map[string]string{
		LabelSource:        "https://github.com/Owner/Repo",
		LabelRevision:      "0123456789abcdef0123456789abcdef01234567",
		LabelVersion:       "1.2.3",
		LabelCreated:       "2025-03-01T12:00:00Z",
		LabelLicenses:      "Apache-2.0",
		LabelAccuracy:      "0.8125",
		LabelTop3:          "0.9500",
		LabelArchitecture:  "convnet",
		LabelDatasetDigest: "sha256:abc123",
		LabelWeightsSHA256: "sha256:" + info.WeightsSHA256,
		LabelGate:          "passed",
	}
	m, err := art.img.Manifest()
	must(t, err)
	for k, v := range want {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
		if m.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, m.Annotations[k], v)
		}
	}
	if _, ok := c.Labels[LabelDescription]; ok {
		t.Error("empty description became a label")
	}

	// Layers: base files, binary, model; entries sorted, root-owned, epoch time.
	layers, err := art.img.Layers()
	must(t, err)
	if len(layers) != 3 {
		t.Fatalf("%d layers, want base files, binary and model", len(layers))
	}
	bin0, _ := os.ReadFile(bin)
	binEntries := tarEntries(t, layers[1])
	if e := binEntries["usr/local/bin/model-release"]; e.mode != 0o755 || e.data != string(bin0) {
		t.Errorf("binary entry mode %o, %d bytes", e.mode, len(e.data))
	}
	modelEntries := tarEntries(t, layers[2])
	w, _ := os.ReadFile(filepath.Join(model, WeightsFile))
	if e := modelEntries["model/model.safetensors"]; e.mode != 0o644 || e.data != string(w) {
		t.Errorf("weights entry mode %o, %d bytes", e.mode, len(e.data))
	}
	for _, f := range []string{"model/", "model/model.json", "model/metrics.json", "model/MODEL_CARD.md"} {
		if _, ok := modelEntries[f]; !ok {
			t.Errorf("model layer lacks %s", f)
		}
	}
	if m.Layers[2].Annotations[layerRoleKey] != "model" {
		t.Errorf("model layer annotations %v", m.Layers[2].Annotations)
	}
}

type entry struct {
	mode int64
	data string
}

// tarEntries reads a layer and checks the reproducibility rules on the way.
func tarEntries(t *testing.T, l v1.Layer) map[string]entry {
	t.Helper()
	rc, err := l.Uncompressed()
	must(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]entry{}
	prev := ""
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		must(t, err)
		if h.Name < prev {
			t.Errorf("entries not sorted: %s after %s", h.Name, prev)
		}
		prev = h.Name
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: uid %d gid %d uname %q time %v", h.Name, h.Uid, h.Gid, h.Uname, h.ModTime)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = entry{mode: h.Mode, data: string(b)}
	}
}

func TestBuildFromIndexSkipsPlatformsWithoutBinary(t *testing.T) {
	dir := t.TempDir()
	var idx v1.ImageIndex = empty.Index
	for _, p := range []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}, {OS: "linux", Architecture: "s390x"}} {
		img, err := random.Image(512, 1)
		must(t, err)
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
		img, err = mutate.ConfigFile(img, cf)
		must(t, err)
		plat := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &plat}})
	}
	_, err := layout.Write(dir, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: idx}))
	must(t, err)

	o := buildOpts(writeModel(t, 1), "")
	o.Base = "oci:" + dir
	o.Binaries = map[string]string{"linux/amd64": writeBinary(t, "amd64"), "linux/arm64": writeBinary(t, "arm64")}
	art, err := Build(context.Background(), o)
	must(t, err)
	if strings.Join(art.Platforms, ",") != "linux/amd64,linux/arm64/v8" || strings.Join(art.Skipped, ",") != "linux/s390x" {
		t.Fatalf("built %v, skipped %v", art.Platforms, art.Skipped)
	}
	im, err := art.idx.IndexManifest()
	must(t, err)
	if len(im.Manifests) != 2 || im.Annotations[LabelVersion] != "1.2.3" {
		t.Fatalf("index %+v", im)
	}
	// Both platforms share one model layer and have their own binary.
	var modelLayers, binLayers = map[v1.Hash]bool{}, map[v1.Hash]bool{}
	for _, d := range im.Manifests {
		img, err := art.idx.Image(d.Digest)
		must(t, err)
		m, _ := img.Manifest()
		cf, _ := img.ConfigFile()
		if platformKey(*d.Platform) != platformKey(v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}) {
			t.Errorf("descriptor platform %v, config %s/%s", d.Platform, cf.OS, cf.Architecture)
		}
		if len(m.Layers) != 3 || cf.Config.User != "" {
			t.Errorf("%v: %d layers (want base + 2), user %q", d.Platform, len(m.Layers), cf.Config.User)
		}
		modelLayers[m.Layers[2].Digest] = true
		binLayers[m.Layers[1].Digest] = true
	}
	if len(modelLayers) != 1 || len(binLayers) != 2 {
		t.Errorf("model layers %d (want 1 shared), binary layers %d (want 2)", len(modelLayers), len(binLayers))
	}

	o.Binaries = map[string]string{"windows/amd64": writeBinary(t, "w")}
	if _, err := Build(context.Background(), o); err == nil || !strings.Contains(err.Error(), "linux/s390x") {
		t.Fatalf("no matching platform: err %v, want one listing the base's platforms", err)
	}
}

func TestReadModelRejectsInconsistentFolder(t *testing.T) {
	dir := writeModel(t, 1)
	must(t, os.WriteFile(filepath.Join(dir, WeightsFile), []byte("other weights"), 0o644))
	if _, err := ReadModel(dir); err == nil || !strings.Contains(err.Error(), "records weights sha256") {
		t.Fatalf("err %v, want a weights hash mismatch", err)
	}
	if _, err := ReadModel(t.TempDir()); err == nil || !strings.Contains(err.Error(), WeightsFile) {
		t.Fatalf("empty folder: err %v", err)
	}
}

func TestWriteLayoutAndTarball(t *testing.T) {
	art, err := Build(context.Background(), buildOpts(writeModel(t, 1), writeBinary(t, "a")))
	must(t, err)
	want, _ := art.Digest()

	dir := filepath.Join(t.TempDir(), "layout")
	must(t, WriteLayout(art, dir, "1.2.3"))
	idx, err := layout.ImageIndexFromPath(dir)
	must(t, err)
	im, err := idx.IndexManifest()
	must(t, err)
	if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != want || im.Manifests[0].Annotations[refNameKey] != "1.2.3" {
		t.Fatalf("layout index %+v, want %s", im.Manifests, want)
	}

	tb := filepath.Join(t.TempDir(), "img.tar")
	must(t, WriteTarball(art, tb, "ghcr.io/owner/repo:1.2.3"))
	img, err := tarball.ImageFromPath(tb, nil)
	must(t, err)
	got, _ := img.ConfigName()
	wantCfg, _ := art.img.ConfigName()
	if got != wantCfg {
		t.Fatalf("tarball config %s, want %s", got, wantCfg)
	}
}
