package promote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/model-release/model-release/internal/github"
)

// RecordAsset is the release asset that says what a release's checks
// concluded. The pipeline writes it; promote reads it.
const RecordAsset = "release.json"

// Record is release.json: the facts of one release that promotion and
// history need. Fields the pipeline does not know are left out.
type Record struct {
	Version  string  `json:"version"`            // 1.2.0
	Tag      string  `json:"tag"`                // v1.2.0
	Commit   string  `json:"commit,omitempty"`   // full SHA
	Image    string  `json:"image,omitempty"`    // repository, e.g. ghcr.io/owner/name
	Digest   string  `json:"digest,omitempty"`   // sha256:... of the pushed manifest
	Accuracy float64 `json:"accuracy,omitempty"` // 0..1, the gate's metric source
	Gate     Check   `json:"gate"`
	// DeployCheck is the pulled-image check of internal/deploycheck.
	DeployCheck Check `json:"deploy_check"`
}

// Check is the outcome of one check. Ran false means it did not run,
// which blocks promotion like a failure does.
type Check struct {
	Ran    bool   `json:"ran"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail,omitempty"` // why it failed, or what it measured
}

// ParseRecord decodes release.json.
func ParseRecord(b []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("%s is not valid JSON: %w", RecordAsset, err)
	}
	return r, nil
}

// Problems lists why the record does not allow promotion; empty means it
// does.
func (r Record) Problems() []string {
	var out []string
	add := func(name string, c Check) {
		switch {
		case !c.Ran:
			out = append(out, name+" did not run")
		case !c.Passed:
			s := name + " failed"
			if c.Detail != "" {
				s += ": " + c.Detail
			}
			out = append(out, s)
		}
	}
	add("gate", r.Gate)
	add("deployment check", r.DeployCheck)
	return out
}

// releaseReader reads a release and its assets.
type releaseReader interface {
	GetRelease(ctx context.Context, tag string) (github.Release, error)
	FetchReleaseAsset(ctx context.Context, tag, name string) ([]byte, error)
}

// ReadRecord reads release.json of the published release tag. A release
// without one (made before the pipeline wrote it, or by hand) gets a
// record whose checks did not run, so only --force promotes it.
func ReadRecord(ctx context.Context, gh releaseReader, tag string) (Record, github.Release, error) {
	rel, err := gh.GetRelease(ctx, tag)
	if errors.Is(err, github.ErrNotFound) {
		return Record{}, rel, fmt.Errorf("no release %s: check the version (model-release history lists them): %w", tag, err)
	}
	if err != nil {
		return Record{}, rel, err
	}
	if rel.Draft {
		return Record{}, rel, fmt.Errorf("release %s is still a draft: finish it (re-run release) before promoting", tag)
	}
	found := false
	for _, a := range rel.Assets {
		found = found || a.Name == RecordAsset
	}
	if !found {
		return Record{Tag: tag}, rel, nil
	}
	b, err := gh.FetchReleaseAsset(ctx, tag, RecordAsset)
	if err != nil {
		return Record{}, rel, fmt.Errorf("reading %s of release %s: %w", RecordAsset, tag, err)
	}
	r, err := ParseRecord(b)
	if err != nil {
		return Record{}, rel, fmt.Errorf("release %s: %w", tag, err)
	}
	return r, rel, nil
}
