package registry

import (
	"context"
	"fmt"
	"os"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Formats of the pushed artifact.
const (
	FormatImage     = "image"     // a runnable image that serves the model
	FormatModelPack = "modelpack" // a CNCF ModelPack artifact
)

// Paths and settings inside the image.
const (
	BinaryPath = "/usr/local/bin/model-release"
	ModelPath  = "/model"
	ServePort  = "8080/tcp"
	// nonRootUser runs the server when the image starts from nothing.
	nonRootUser = "65532:65532"
)

// Label keys. The OCI keys are what GHCR and other tools read
// (org.opencontainers.image.source links a GHCR package to its repository);
// model facts live under LabelPrefix.
const (
	LabelSource      = "org.opencontainers.image.source"
	LabelRevision    = "org.opencontainers.image.revision"
	LabelVersion     = "org.opencontainers.image.version"
	LabelCreated     = "org.opencontainers.image.created"
	LabelTitle       = "org.opencontainers.image.title"
	LabelDescription = "org.opencontainers.image.description"
	LabelLicenses    = "org.opencontainers.image.licenses"
	LabelURL         = "org.opencontainers.image.url"

	LabelPrefix        = "io.github.model-release."
	LabelAccuracy      = LabelPrefix + "accuracy"
	LabelTop3          = LabelPrefix + "top3-accuracy"
	LabelDatasetDigest = LabelPrefix + "dataset-digest"
	LabelWeightsSHA256 = LabelPrefix + "weights-sha256"
	LabelArchitecture  = LabelPrefix + "architecture"
	LabelGate          = LabelPrefix + "gate"

	// layerRoleKey annotates our layers in the manifest so Verify and
	// PullModel find the model layer without guessing.
	layerRoleKey = LabelPrefix + "layer"
)

// Metadata is what the labels say about where the model came from.
type Metadata struct {
	Source      string    // repository URL, e.g. https://github.com/owner/name
	Revision    string    // commit SHA
	Version     string    // semver of the model
	Created     time.Time // commit time: fixed input keeps the digest reproducible (zero: 1970-01-01)
	Title       string
	Description string
	Licenses    string // SPDX expression
	URL         string
	Gate        string // gate verdict, e.g. "passed"
}

// BuildOptions say what goes into the artifact.
type BuildOptions struct {
	ModelDir string
	Format   string // FormatImage (default) or FormatModelPack
	// Base is "" or "none" (start from nothing), "oci:DIR" (an OCI layout
	// on disk) or an image reference pulled from its registry.
	Base string
	// Binaries maps a platform ("linux/amd64", "linux/arm64/v8") to the
	// model-release binary built for it. Empty: Binary for the host platform.
	Binaries map[string]string
	// Binary is the binary for the host platform; empty: the running
	// executable (os.Executable), which must be a static Linux build.
	Binary string
	Meta   Metadata
}

// Artifact is a built image, index or ModelPack artifact, ready to push or
// write locally.
type Artifact struct {
	Format    string
	Model     *ModelInfo
	Platforms []string // platforms built, for an image or index
	Skipped   []string // platforms of the base index with no binary given

	img v1.Image
	idx v1.ImageIndex
}

// Digest is the artifact's manifest digest ("sha256:...").
func (a *Artifact) Digest() (string, error) {
	h, err := a.digest()
	return h.String(), err
}

func (a *Artifact) digest() (v1.Hash, error) {
	if a.idx != nil {
		return a.idx.Digest()
	}
	return a.img.Digest()
}

// Sizes reports the compressed bytes of everything in the artifact
// (manifests, configs, layers; shared layers counted once) and the bytes of
// the model weights, so callers can print the packaging overhead.
func (a *Artifact) Sizes() (total, weights int64, err error) {
	seen := map[v1.Hash]bool{}
	add := func(h v1.Hash, n int64) {
		if !seen[h] {
			seen[h] = true
			total += n
		}
	}
	var imgs []v1.Image
	if a.idx != nil {
		raw, err := a.idx.RawManifest()
		if err != nil {
			return 0, 0, err
		}
		d, _ := a.idx.Digest()
		add(d, int64(len(raw)))
		im, err := a.idx.IndexManifest()
		if err != nil {
			return 0, 0, err
		}
		for _, desc := range im.Manifests {
			img, err := a.idx.Image(desc.Digest)
			if err != nil {
				return 0, 0, err
			}
			imgs = append(imgs, img)
		}
	} else {
		imgs = []v1.Image{a.img}
	}
	for _, img := range imgs {
		m, err := img.Manifest()
		if err != nil {
			return 0, 0, err
		}
		raw, _ := img.RawManifest()
		d, _ := img.Digest()
		add(d, int64(len(raw)))
		add(m.Config.Digest, m.Config.Size)
		for _, l := range m.Layers {
			add(l.Digest, l.Size)
		}
	}
	return total, a.Model.WeightsSize, nil
}

// Build assembles the artifact. Options configure how a remote base image
// is pulled (auth, transport).
func Build(ctx context.Context, bo BuildOptions, opts ...Option) (*Artifact, error) {
	model, err := ReadModel(bo.ModelDir)
	if err != nil {
		return nil, err
	}
	labels := buildLabels(bo.Meta, model)
	switch bo.Format {
	case FormatModelPack:
		img, err := buildModelPack(model, bo.Meta, labels)
		if err != nil {
			return nil, err
		}
		return &Artifact{Format: FormatModelPack, Model: model, img: img}, nil
	case "", FormatImage:
	default:
		return nil, fmt.Errorf("format %q is not %s or %s", bo.Format, FormatImage, FormatModelPack)
	}

	binaries, err := binaryMap(bo)
	if err != nil {
		return nil, err
	}
	base, err := loadBase(ctx, bo.Base, newSettings(opts))
	if err != nil {
		return nil, err
	}
	b := &imageBuilder{model: model, meta: bo.Meta, labels: labels, binaries: binaries, layers: map[string]*memLayer{}}
	art := &Artifact{Format: FormatImage, Model: model}
	if base.index == nil {
		img, plat, err := b.forImage(base.image, base.empty)
		if err != nil {
			return nil, err
		}
		art.img, art.Platforms = img, []string{plat}
		return art, nil
	}
	idx, built, skipped, err := b.forIndex(base.index)
	if err != nil {
		return nil, err
	}
	art.idx, art.Platforms, art.Skipped = idx, built, skipped
	return art, nil
}

// binaryMap resolves which binary goes into which platform's image.
func binaryMap(bo BuildOptions) (map[string]string, error) {
	out := map[string]string{}
	for p, path := range bo.Binaries {
		plat, err := v1.ParsePlatform(p)
		if err != nil || plat.OS == "" || plat.Architecture == "" {
			return nil, fmt.Errorf("binary platform %q is not of the form os/arch[/variant], e.g. linux/amd64", p)
		}
		out[platformKey(*plat)] = path
	}
	if len(out) > 0 {
		return out, nil
	}
	bin := bo.Binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding the running model-release binary (give --binary): %w", err)
		}
		bin = exe
	}
	out["linux/"+runtime.GOARCH] = bin
	return out, nil
}

func platformKey(p v1.Platform) string {
	k := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		k += "/" + p.Variant
	}
	return k
}

// binaryFor finds the binary of a platform, accepting a map entry without
// the variant (linux/arm64 for linux/arm64/v8).
func (b *imageBuilder) binaryFor(p v1.Platform) (string, bool) {
	if bin, ok := b.binaries[platformKey(p)]; ok {
		return bin, true
	}
	bin, ok := b.binaries[p.OS+"/"+p.Architecture]
	return bin, ok
}

type imageBuilder struct {
	model    *ModelInfo
	meta     Metadata
	labels   map[string]string
	binaries map[string]string
	layers   map[string]*memLayer // by binary path, "model", "base-files"; shared across platforms
}

func (b *imageBuilder) forIndex(base v1.ImageIndex) (v1.ImageIndex, []string, []string, error) {
	im, err := base.IndexManifest()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading base index: %w", err)
	}
	mt, err := base.MediaType()
	if err != nil {
		return nil, nil, nil, err
	}
	var adds []mutate.IndexAddendum
	var built, skipped, available []string
	for _, desc := range im.Manifests {
		if desc.Platform == nil || desc.Platform.OS == "unknown" || !desc.MediaType.IsImage() {
			continue // attestations and nested indexes are not platforms
		}
		key := platformKey(*desc.Platform)
		available = append(available, key)
		if _, ok := b.binaryFor(*desc.Platform); !ok {
			skipped = append(skipped, key)
			continue
		}
		baseImg, err := base.Image(desc.Digest)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("reading base image for %s: %w", key, err)
		}
		img, _, err := b.build(baseImg, *desc.Platform, false)
		if err != nil {
			return nil, nil, nil, err
		}
		plat := *desc.Platform
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &plat}})
		built = append(built, key)
	}
	if len(adds) == 0 {
		return nil, nil, nil, fmt.Errorf("the base index has platforms %s but binaries were given for %s: build model-release for one of them",
			strings.Join(available, ", "), strings.Join(sortedKeys(b.binaries), ", "))
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, mt), adds...)
	idx = mutate.Annotations(idx, b.labels).(v1.ImageIndex)
	return idx, built, skipped, nil
}

func (b *imageBuilder) forImage(base v1.Image, fromNothing bool) (v1.Image, string, error) {
	plat := v1.Platform{OS: "linux"}
	if !fromNothing {
		cf, err := base.ConfigFile()
		if err != nil {
			return nil, "", fmt.Errorf("reading base config: %w", err)
		}
		plat = v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	} else if len(b.binaries) != 1 {
		return nil, "", fmt.Errorf("binaries for several platforms (%s) need a multi-platform base index; without one give a single --binary",
			strings.Join(sortedKeys(b.binaries), ", "))
	} else {
		for k := range b.binaries {
			p, _ := v1.ParsePlatform(k)
			plat = *p
		}
	}
	if _, ok := b.binaryFor(plat); !ok {
		return nil, "", fmt.Errorf("the base image is %s but binaries were given for %s: use a base of that platform or a matching binary",
			platformKey(plat), strings.Join(sortedKeys(b.binaries), ", "))
	}
	return b.build(base, plat, fromNothing)
}

// build appends the binary and model layers to one platform's base image and
// sets the config that serves the model.
func (b *imageBuilder) build(base v1.Image, plat v1.Platform, fromNothing bool) (v1.Image, string, error) {
	key := platformKey(plat)
	binPath, _ := b.binaryFor(plat)

	layerType := types.OCILayer
	if !fromNothing {
		if mt, err := base.MediaType(); err == nil && mt == types.DockerManifestSchema2 {
			layerType = types.DockerLayer
		}
	} else {
		base = mutate.ConfigMediaType(mutate.MediaType(base, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	created := v1.Time{Time: b.created()}

	var adds []mutate.Addendum
	if fromNothing {
		l, err := b.layer("base-files:"+key+":"+binPath, layerType, func() ([]tarEntry, error) {
			es, err := baseFiles()
			if err != nil {
				return nil, err
			}
			rt, err := dynamicRuntime(binPath, plat.OS, plat.Architecture)
			return append(es, rt...), err
		})
		if err != nil {
			return nil, "", err
		}
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{Created: created, CreatedBy: "model-release: /etc/passwd, /etc/group, /tmp, and the ELF loader and libc the binary links"},
			Annotations: map[string]string{layerRoleKey: "base-files"}})
	}
	binLayer, err := b.layer(binPath, layerType, func() ([]tarEntry, error) {
		data, err := os.ReadFile(binPath)
		if err != nil {
			return nil, fmt.Errorf("reading model-release binary for %s: %w", key, err)
		}
		return []tarEntry{{Name: BinaryPath, Mode: 0o755, Data: data}}, nil
	})
	if err != nil {
		return nil, "", err
	}
	modelLayer, err := b.layer("model", layerType, b.modelEntries)
	if err != nil {
		return nil, "", err
	}
	adds = append(adds,
		mutate.Addendum{Layer: binLayer, History: v1.History{Created: created, CreatedBy: "model-release: COPY model-release " + BinaryPath},
			Annotations: map[string]string{layerRoleKey: "binary"}},
		mutate.Addendum{Layer: modelLayer, History: v1.History{Created: created, CreatedBy: "model-release: COPY model " + ModelPath + "/"},
			Annotations: map[string]string{layerRoleKey: "model"}},
	)
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, "", fmt.Errorf("appending layers: %w", err)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		return nil, "", fmt.Errorf("reading image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Created = created
	cf.OS, cf.Architecture, cf.Variant = plat.OS, plat.Architecture, plat.Variant
	cf.Author = "model-release"
	c := &cf.Config
	c.Entrypoint = []string{BinaryPath, "serve", "--model", ModelPath}
	c.Cmd = nil
	c.WorkingDir = "/"
	c.ExposedPorts = map[string]struct{}{ServePort: {}}
	c.Env = withEnv(c.Env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	if fromNothing {
		c.User = nonRootUser
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	for k, v := range b.labels {
		c.Labels[k] = v
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, "", fmt.Errorf("setting image config: %w", err)
	}
	img = mutate.Annotations(img, b.labels).(v1.Image)
	return img, key, nil
}

func (b *imageBuilder) created() time.Time {
	if b.meta.Created.IsZero() {
		return layerTime
	}
	return b.meta.Created.UTC().Truncate(time.Second)
}

// layer builds a layer once and shares it between platforms, so an index
// carries one model layer, not one per platform.
func (b *imageBuilder) layer(id string, mt types.MediaType, entries func() ([]tarEntry, error)) (*memLayer, error) {
	if l, ok := b.layers[id+"|"+string(mt)]; ok {
		return l, nil
	}
	es, err := entries()
	if err != nil {
		return nil, err
	}
	l, err := newTarLayer(es, mt)
	if err != nil {
		return nil, err
	}
	b.layers[id+"|"+string(mt)] = l
	return l, nil
}

func (b *imageBuilder) modelEntries() ([]tarEntry, error) {
	es := []tarEntry{{Name: ModelPath, Dir: true, Mode: 0o755}}
	for _, name := range b.model.Files {
		data, err := os.ReadFile(b.model.Dir + string(os.PathSeparator) + name)
		if err != nil {
			return nil, fmt.Errorf("reading model file: %w", err)
		}
		es = append(es, tarEntry{Name: path.Join(ModelPath, name), Mode: 0o644, Data: data})
	}
	return es, nil
}

// baseFiles is the minimal root a static binary needs when the image
// starts from nothing: users for the non-root server and a writable /tmp.
func baseFiles() ([]tarEntry, error) {
	return []tarEntry{
		{Name: "etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{Name: "etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{Name: "home/nonroot", Dir: true, Mode: 0o755},
		{Name: "tmp", Dir: true, Mode: 0o1777},
	}, nil
}

func withEnv(env []string, key, value string) []string {
	for _, e := range env {
		if strings.HasPrefix(e, key+"=") {
			return env
		}
	}
	return append(append([]string(nil), env...), key+"="+value)
}

// buildLabels turns metadata and model facts into labels; empty values are
// left out so a label never claims something unknown.
func buildLabels(m Metadata, model *ModelInfo) map[string]string {
	created := m.Created
	if created.IsZero() {
		created = layerTime
	}
	l := map[string]string{
		LabelSource:        m.Source,
		LabelRevision:      m.Revision,
		LabelVersion:       m.Version,
		LabelCreated:       created.UTC().Truncate(time.Second).Format(time.RFC3339),
		LabelTitle:         m.Title,
		LabelDescription:   m.Description,
		LabelLicenses:      m.Licenses,
		LabelURL:           m.URL,
		LabelWeightsSHA256: "sha256:" + model.WeightsSHA256,
		LabelArchitecture:  model.Architecture,
		LabelDatasetDigest: model.DatasetDigest,
		LabelGate:          m.Gate,
	}
	if model.Metrics != nil {
		l[LabelAccuracy] = strconv.FormatFloat(model.Metrics.Accuracy, 'f', 4, 64)
		l[LabelTop3] = strconv.FormatFloat(model.Metrics.Top3Accuracy, 'f', 4, 64)
	}
	for k, v := range l {
		if v == "" {
			delete(l, k)
		}
	}
	return l
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
