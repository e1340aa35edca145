package promote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/model-release/model-release/internal/github"
)

// HistoryTag is the tag of the GitHub Release that holds the history.
const HistoryTag = "model-release-channels"

// HistoryAsset names the history's files on that release: channels-N.json
// for the history of N moves. Each save uploads a new file next to the
// previous one before anything else is removed, so a failure part-way
// never leaves the release without a complete history (replacing one file
// in place would delete it first). Older files are removed on the next save.
const HistoryAsset = "channels-N.json"

var historyAssetRe = regexp.MustCompile(`^channels-(\d+)\.json$`)

func historyAssetName(moves int) string { return fmt.Sprintf("channels-%06d.json", moves) }

// historyBody is the release text, telling people what the release is.
const historyBody = `Channel history of this repository's models, kept by model-release.

` + "`channels.json`" + ` records every promotion and rollback: channel, version, image
digest, who, when and why. Do not delete this release; read it with
` + "`model-release history`" + `.`

// Store loads and saves the channel history.
type Store interface {
	Load(ctx context.Context) (History, error)
	// Save stores h, which must extend what Load returned; anchor is a
	// commit SHA for the history's tag when it does not exist yet.
	Save(ctx context.Context, h History, anchor string) error
}

// historyReleases is what ReleaseStore needs of the GitHub client.
type historyReleases interface {
	GetRelease(ctx context.Context, tag string) (github.Release, error)
	FetchReleaseAsset(ctx context.Context, tag, name string) ([]byte, error)
	TagCommit(ctx context.Context, tag string) (sha string, ok bool, err error)
	Publish(ctx context.Context, spec github.ReleaseSpec) (github.Release, error)
}

// ReleaseStore keeps the history on the HistoryTag release (see the
// package doc for why).
type ReleaseStore struct {
	GitHub historyReleases
}

// stored is the newest history file on the release.
type stored struct {
	name string
	data []byte
	h    History
}

func (s ReleaseStore) load(ctx context.Context) (stored, error) {
	empty := stored{h: History{Schema: HistorySchema}}
	rel, err := s.GitHub.GetRelease(ctx, HistoryTag)
	if errors.Is(err, github.ErrNotFound) {
		return empty, nil
	}
	if err != nil {
		return stored{}, fmt.Errorf("reading channel history: %w", err)
	}
	best, bestN := "", -1
	for _, a := range rel.Assets {
		if m := historyAssetRe.FindStringSubmatch(a.Name); m != nil {
			if n, _ := strconv.Atoi(m[1]); n > bestN {
				best, bestN = a.Name, n
			}
		}
	}
	if best == "" {
		return empty, nil
	}
	b, err := s.GitHub.FetchReleaseAsset(ctx, HistoryTag, best)
	if err != nil {
		return stored{}, fmt.Errorf("reading channel history %s: %w", best, err)
	}
	h, err := ParseHistory(b)
	if err != nil {
		return stored{}, fmt.Errorf("%s: %w", best, err)
	}
	return stored{name: best, data: b, h: h}, nil
}

// Load reads the history; a repository without one has an empty history.
func (s ReleaseStore) Load(ctx context.Context) (History, error) {
	st, err := s.load(ctx)
	return st.h, err
}

// Save publishes h, refusing when the stored history is no longer a prefix
// of h (someone else promoted meanwhile: re-run to record on top of it).
func (s ReleaseStore) Save(ctx context.Context, h History, anchor string) error {
	prev, err := s.load(ctx)
	if err != nil {
		return err
	}
	if !isPrefix(prev.h.Moves, h.Moves) {
		return fmt.Errorf("channel history changed while this command ran (%d moves stored, this run read fewer): re-run it; run promotions in one concurrency group", len(prev.h.Moves))
	}
	sha, ok, err := s.GitHub.TagCommit(ctx, HistoryTag)
	if err != nil {
		return err
	}
	if !ok {
		if anchor == "" {
			return fmt.Errorf("creating the %s release: no commit known to create its tag at (the release has no release.json commit nor a commit target)", HistoryTag)
		}
		sha = anchor
	}
	b, err := h.Encode()
	if err != nil {
		return err
	}
	assets := []github.Asset{{Name: historyAssetName(len(h.Moves)), Data: b}}
	if prev.name != "" && prev.name != assets[0].Name {
		assets = append([]github.Asset{{Name: prev.name, Data: prev.data}}, assets...)
	}
	spec := github.ReleaseSpec{
		Tag: HistoryTag, SHA: sha, Name: "Model channels", Body: historyBody,
		Prerelease: true, MakeLatest: false, Assets: assets,
	}
	if _, err := s.GitHub.Publish(ctx, spec); err != nil {
		return fmt.Errorf("saving channel history: %w", err)
	}
	return nil
}
func isPrefix(stored, next []Move) bool {
	if len(stored) > len(next) {
		return false
	}
	for i := range stored {
		a, _ := History{Moves: []Move{stored[i]}}.Encode()
		b, _ := History{Moves: []Move{next[i]}}.Encode()
		if !bytes.Equal(a, b) {
			return false
		}
	}
	return true
}

// MemStore is a Store in memory, for dry runs and tests.
type MemStore struct{ H History }

// Load returns a copy of the history.
func (m *MemStore) Load(context.Context) (History, error) {
	return History{Schema: HistorySchema, Moves: append([]Move(nil), m.H.Moves...)}, nil
}

// Save replaces the history.
func (m *MemStore) Save(_ context.Context, h History, _ string) error {
	m.H = History{Schema: HistorySchema, Moves: append([]Move(nil), h.Moves...)}
	return nil
}
