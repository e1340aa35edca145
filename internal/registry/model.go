package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/model-release/model-release/internal/metrics"
)

// The files of a model folder (the contract between trainer, registry,
// serve and release).
const (
	WeightsFile  = "model.safetensors"
	MetadataFile = "model.json"
	MetricsFile  = metrics.FileName
	CardFile     = "MODEL_CARD.md"
)

// modelFiles lists the files that go into the image, in layer order.
var modelFiles = []string{WeightsFile, MetadataFile, MetricsFile, CardFile}

// ModelInfo is what the image labels say about a model folder.
type ModelInfo struct {
	Dir           string
	Files         []string // present files among modelFiles, sorted
	WeightsSHA256 string   // hex, computed from model.safetensors
	WeightsSize   int64
	Architecture  string
	DatasetDigest string
	Metrics       *metrics.Metrics // nil when metrics.json is absent
}

// ReadModel checks a model folder and collects the facts the labels need.
// The weights are required; model.json is read tolerantly (field names may
// still move between trainer versions), and a weights_sha256 it records must
// match the file.
func ReadModel(dir string) (*ModelInfo, error) {
	info := &ModelInfo{Dir: dir}
	for _, name := range modelFiles {
		st, err := os.Stat(filepath.Join(dir, name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if name == WeightsFile {
				return nil, fmt.Errorf("model folder %s has no %s: point --model at the folder written by train", dir, WeightsFile)
			}
			continue
		case err != nil:
			return nil, fmt.Errorf("reading model folder: %w", err)
		case !st.Mode().IsRegular():
			return nil, fmt.Errorf("model folder %s: %s is not a regular file", dir, name)
		}
		info.Files = append(info.Files, name)
		if name == WeightsFile {
			info.WeightsSize = st.Size()
		}
	}
	sum, err := fileSHA256(filepath.Join(dir, WeightsFile))
	if err != nil {
		return nil, err
	}
	info.WeightsSHA256 = sum

	if has(info.Files, MetadataFile) {
		meta, err := readMetadata(filepath.Join(dir, MetadataFile))
		if err != nil {
			return nil, err
		}
		if meta.weightsSHA256 != "" && !strings.EqualFold(strings.TrimPrefix(meta.weightsSHA256, "sha256:"), sum) {
			return nil, fmt.Errorf("model folder %s: %s records weights sha256 %s but %s hashes to %s: the folder is inconsistent, re-run train or evaluate",
				dir, MetadataFile, meta.weightsSHA256, WeightsFile, sum)
		}
		info.Architecture = meta.architecture
		info.DatasetDigest = meta.datasetDigest
	}
	if has(info.Files, MetricsFile) {
		m, err := metrics.Read(filepath.Join(dir, MetricsFile))
		if err != nil {
			return nil, fmt.Errorf("model folder %s: %w", dir, err)
		}
		info.Metrics = m
		if info.Architecture == "" {
			info.Architecture = m.Architecture
		}
		if info.DatasetDigest == "" {
			info.DatasetDigest = m.DatasetDigest
		}
	}
	return info, nil
}

type metadataFacts struct {
	weightsSHA256, architecture, datasetDigest string
}

// readMetadata picks the few fields the image needs out of model.json,
// accepting the spellings a trainer might use.
func readMetadata(path string) (metadataFacts, error) {
	var facts metadataFacts
	b, err := os.ReadFile(path)
	if err != nil {
		return facts, fmt.Errorf("reading model metadata: %w", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return facts, fmt.Errorf("model metadata %s is not valid JSON: %w", path, err)
	}
	facts.weightsSHA256 = firstString(raw, "weights_sha256", "weightsSha256", "weights_digest", "sha256")
	facts.architecture = firstString(raw, "architecture", "arch")
	facts.datasetDigest = firstString(raw, "dataset_digest", "datasetDigest")
	if facts.datasetDigest == "" {
		if ds, ok := raw["dataset"].(map[string]any); ok {
			facts.datasetDigest = firstString(ds, "digest", "sha256")
		}
	}
	return facts, nil
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hashing weights: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
