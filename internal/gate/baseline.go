package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/model-release/model-release/internal/metrics"
)

// BaselineState says what the gate can compare against.
type BaselineState string

// Baseline states. The zero value reads as unavailable, so a forgotten
// baseline is a warning, never a silent pass.
const (
	BaselineUnavailable  BaselineState = "unavailable"   // asked for but not readable: comparison skipped, with a warning
	BaselineFound        BaselineState = "found"         // metrics to compare against
	BaselineFirstRelease BaselineState = "first-release" // no earlier release exists: the rule passes, said as such
	BaselineOff          BaselineState = "off"           // comparison turned off by the user (baseline: none)
)

// Baseline is what the candidate is compared against.
type Baseline struct {
	State   BaselineState
	Name    string           // where it came from: "v1.2.0", "latest release (v1.2.0)", a path
	Metrics *metrics.Metrics // set when State is BaselineFound
	Reason  string           // why it is unavailable, or a note for the first release
}

// FoundBaseline wraps metrics read from name.
func FoundBaseline(name string, m *metrics.Metrics) Baseline {
	return Baseline{State: BaselineFound, Name: name, Metrics: m}
}

// FirstRelease is the baseline of a repository with no release yet.
func FirstRelease() Baseline { return Baseline{State: BaselineFirstRelease} }

// NoBaseline is a comparison turned off on purpose.
func NoBaseline() Baseline { return Baseline{State: BaselineOff, Name: "none"} }

// Unavailable is a baseline that was asked for but could not be read.
func Unavailable(name, reason string) Baseline {
	return Baseline{State: BaselineUnavailable, Name: name, Reason: reason}
}

// ReleaseAssetFetcher downloads an asset of a GitHub Release; tag "" means
// the latest published release. When the release or the asset does not
// exist it returns an error for which errors.Is(err, fs.ErrNotExist) holds,
// or one with a NotFound() bool method that returns true.
type ReleaseAssetFetcher interface {
	FetchReleaseAsset(ctx context.Context, tag, name string) ([]byte, error)
}

// ResolveBaseline finds the baseline named by spec, the value of the
// "baseline" option:
//
//   - "none": comparison off;
//   - "" or "latest": metrics.json of the latest published release (none
//     at all: the first release);
//   - a path to a model folder, model.json, model.safetensors or metrics.json;
//   - otherwise a release tag, whose metrics.json asset is fetched.
//
// It never fails: a baseline it cannot read comes back Unavailable with the
// reason, which Check turns into a skipped rule and a warning. fetcher may be
// nil when no GitHub client is configured.
func ResolveBaseline(ctx context.Context, spec string, fetcher ReleaseAssetFetcher) Baseline {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "none":
		return NoBaseline()
	case spec == "" || spec == "latest":
		return fromRelease(ctx, fetcher, "")
	case looksLikePath(spec):
		return FromFile(spec)
	default:
		return fromRelease(ctx, fetcher, spec)
	}
}

// NeedsRelease says whether spec names a release (latest or a tag), so
// that the caller knows to build a GitHub client for ResolveBaseline.
func NeedsRelease(spec string) bool {
	spec = strings.TrimSpace(spec)
	return spec != "none" && (spec == "" || spec == "latest" || !looksLikePath(spec))
}

func looksLikePath(spec string) bool {
	if _, err := os.Stat(spec); err == nil {
		return true
	}
	ext := strings.ToLower(filepath.Ext(spec))
	return ext == ".json" || ext == ".safetensors" || strings.HasPrefix(spec, ".") || filepath.IsAbs(spec)
}

func fromRelease(ctx context.Context, fetcher ReleaseAssetFetcher, tag string) Baseline {
	name := "release " + tag
	if tag == "" {
		name = "latest release"
	}
	if fetcher == nil {
		return Unavailable(name, "no GitHub client to fetch "+name+": set github-token and repository, or pass --baseline with a metrics.json file")
	}
	b, err := fetcher.FetchReleaseAsset(ctx, tag, metrics.FileName)
	if err != nil {
		if isNotFound(err) {
			if tag == "" {
				fb := FirstRelease()
				fb.Reason = "no published release with a " + metrics.FileName + " asset was found: this is the first release, nothing to compare against"
				return fb
			}
			return Unavailable(name, name+" or its "+metrics.FileName+" asset does not exist: check the tag, or pass --baseline none")
		}
		return Unavailable(name, fmt.Sprintf("fetching %s of %s: %v", metrics.FileName, name, err))
	}
	m, err := metrics.Parse(b, metrics.FileName+" of "+name)
	if err != nil {
		return Unavailable(name, err.Error())
	}
	return FoundBaseline(name, m)
}

func isNotFound(err error) bool {
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}

// FromFile reads a baseline from a model folder, a model.json, a
// model.safetensors (the metrics beside it) or a metrics.json.
func FromFile(path string) Baseline {
	m, err := ReadMetrics(path)
	if err != nil {
		return Unavailable(path, err.Error())
	}
	return FoundBaseline(path, m)
}

// ReadMetrics loads metrics from a model folder (its metrics.json, else the
// final metrics in its model.json), from a model.json or model.safetensors
// (the same, beside it), or from a metrics.json.
func ReadMetrics(path string) (*metrics.Metrics, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading baseline %s: %w", path, err)
	}
	dir := path
	if !st.IsDir() {
		if strings.EqualFold(filepath.Ext(path), ".json") {
			return metricsFromJSON(path)
		}
		dir = filepath.Dir(path)
	}
	for _, name := range []string{metrics.FileName, "model.json"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return metricsFromJSON(p)
		}
	}
	return nil, fmt.Errorf("reading baseline %s: no %s or model.json in %s", path, metrics.FileName, dir)
}

// metricsFromJSON accepts a metrics document or a model metadata document
// that embeds one; the key holding it is read tolerantly because model.json
// belongs to the trainer.
func metricsFromJSON(path string) (*metrics.Metrics, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading baseline: %w", err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("baseline %s is not a JSON object: %w", path, err)
	}
	if _, ok := doc["accuracy"]; ok {
		return metrics.Parse(b, path)
	}
	for _, key := range []string{"metrics", "final_metrics", "finalMetrics", "FinalMetrics", "Metrics"} {
		if raw, ok := doc[key]; ok && string(raw) != "null" {
			return metrics.Parse(raw, path+" ("+key+")")
		}
	}
	if sib := filepath.Join(filepath.Dir(path), metrics.FileName); filepath.Base(path) != metrics.FileName {
		if _, err := os.Stat(sib); err == nil {
			return metrics.Read(sib)
		}
	}
	return nil, fmt.Errorf("baseline %s holds no metrics: want a metrics.json, or a model.json with a \"metrics\" object", path)
}
