package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// CNCF ModelPack media types and annotations (github.com/modelpack/model-spec,
// specs-go/v1). Files are stored raw, one layer each, named by annotation.
const (
	ModelPackArtifactType = "application/vnd.cncf.model.manifest.v1+json"
	ModelPackConfigType   = "application/vnd.cncf.model.config.v1+json"
	modelPackWeightRaw    = "application/vnd.cncf.model.weight.v1.raw"
	modelPackWeightConfig = "application/vnd.cncf.model.weight.config.v1.raw"
	modelPackDocRaw       = "application/vnd.cncf.model.doc.v1.raw"
	modelPackFilepath     = "org.cncf.model.filepath"
	modelPackFileMetadata = "org.cncf.model.file.metadata+json"
)

// modelPackConfig follows the ModelPack v1 Model config.
type modelPackConfig struct {
	Descriptor struct {
		CreatedAt   *time.Time `json:"createdAt,omitempty"`
		Family      string     `json:"family,omitempty"`
		Name        string     `json:"name,omitempty"`
		SourceURL   string     `json:"sourceURL,omitempty"`
		DocURL      string     `json:"docURL,omitempty"`
		Version     string     `json:"version,omitempty"`
		Revision    string     `json:"revision,omitempty"`
		Licenses    []string   `json:"licenses,omitempty"`
		Title       string     `json:"title,omitempty"`
		Description string     `json:"description,omitempty"`
	} `json:"descriptor"`
	ModelFS struct {
		Type    string    `json:"type"`
		DiffIDs []v1.Hash `json:"diffIds"`
	} `json:"modelfs"`
	Config struct {
		Architecture string `json:"architecture,omitempty"`
		Format       string `json:"format,omitempty"`
		Precision    string `json:"precision,omitempty"`
		Capabilities struct {
			InputTypes  []string `json:"inputTypes,omitempty"`
			OutputTypes []string `json:"outputTypes,omitempty"`
		} `json:"capabilities"`
	} `json:"config"`
}

type fileMetadata struct {
	Name     string    `json:"name"`
	Mode     uint32    `json:"mode"`
	UID      uint32    `json:"uid"`
	GID      uint32    `json:"gid"`
	Size     int64     `json:"size"`
	ModTime  time.Time `json:"mtime"`
	Typeflag byte      `json:"typeflag"`
}

// modelPackImage is a ModelPack artifact: ggcr's partial package fills in
// the rest of v1.Image from these four methods.
type modelPackImage struct {
	manifest, config []byte
	layers           map[v1.Hash]v1.Layer
}

func (m *modelPackImage) RawConfigFile() ([]byte, error)      { return m.config, nil }
func (m *modelPackImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (m *modelPackImage) RawManifest() ([]byte, error)        { return m.manifest, nil }
func (m *modelPackImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := m.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("modelpack artifact has no blob %s", h)
}

func buildModelPack(model *ModelInfo, meta Metadata, labels map[string]string) (v1.Image, error) {
	var cfg modelPackConfig
	created := meta.Created.UTC().Truncate(time.Second)
	if meta.Created.IsZero() {
		created = layerTime
	}
	d := &cfg.Descriptor
	d.CreatedAt = &created
	d.Family, d.Name, d.Title = model.Architecture, meta.Title, meta.Title
	d.SourceURL, d.DocURL, d.Version, d.Revision, d.Description = meta.Source, meta.URL, meta.Version, meta.Revision, meta.Description
	if meta.Licenses != "" {
		d.Licenses = []string{meta.Licenses}
	}
	cfg.ModelFS.Type = "layers"
	cfg.Config.Architecture = "cnn"
	cfg.Config.Format = "safetensors"
	cfg.Config.Precision = "fp32"
	cfg.Config.Capabilities.InputTypes = []string{"image"}
	cfg.Config.Capabilities.OutputTypes = []string{"other"}

	img := &modelPackImage{layers: map[v1.Hash]v1.Layer{}}
	man := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: ModelPackArtifactType, Annotations: labels}
	for _, name := range model.Files {
		data, err := os.ReadFile(filepath.Join(model.Dir, name))
		if err != nil {
			return nil, fmt.Errorf("reading model file: %w", err)
		}
		mt := types.MediaType(modelPackDocRaw)
		switch name {
		case WeightsFile:
			mt = modelPackWeightRaw
		case MetadataFile:
			mt = modelPackWeightConfig
		}
		l := static.NewLayer(data, mt)
		desc, err := partial.Descriptor(l)
		if err != nil {
			return nil, err
		}
		fm, _ := json.Marshal(fileMetadata{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: layerTime, Typeflag: '0'})
		desc.Annotations = map[string]string{modelPackFilepath: name, modelPackFileMetadata: string(fm)}
		man.Layers = append(man.Layers, *desc)
		cfg.ModelFS.DiffIDs = append(cfg.ModelFS.DiffIDs, desc.Digest) // raw: DiffID == digest
		img.layers[desc.Digest] = l
	}
	var err error
	if img.config, err = json.Marshal(cfg); err != nil {
		return nil, fmt.Errorf("encoding modelpack config: %w", err)
	}
	cd, size, err := v1.SHA256(bytes.NewReader(img.config))
	if err != nil {
		return nil, err
	}
	man.Config = v1.Descriptor{MediaType: ModelPackConfigType, Size: size, Digest: cd}
	if img.manifest, err = json.Marshal(man); err != nil {
		return nil, fmt.Errorf("encoding modelpack manifest: %w", err)
	}
	return partial.CompressedToImage(img)
}
