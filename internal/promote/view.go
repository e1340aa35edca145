package promote

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/model-release/model-release/internal/github"
	"github.com/model-release/model-release/internal/version"
)

// VersionRow is one released version in the history view.
type VersionRow struct {
	Version  string    `json:"version"`
	Tag      string    `json:"tag"`
	Date     time.Time `json:"date"`
	Accuracy *float64  `json:"accuracy,omitempty"`
	Gate     string    `json:"gate"`         // passed, failed or unknown
	Deploy   string    `json:"deploy_check"` // passed, failed or unknown
	Digest   string    `json:"digest,omitempty"`
	Channels []string  `json:"channels"`
}

// View is what `model-release history` shows.
type View struct {
	Versions []VersionRow `json:"versions"`
	Moves    []Move       `json:"moves"`
}

// releaseLister lists releases and reads their assets.
type releaseLister interface {
	ListReleases(ctx context.Context) ([]github.Release, error)
	FetchReleaseAsset(ctx context.Context, tag, name string) ([]byte, error)
}

// BuildView lists the published releases carrying prefix, newest first (at
// most limit; 0 for all), with their record and the channels pointing at
// them, and the moves of channel ("" for all).
func BuildView(ctx context.Context, gh releaseLister, prefix string, h History, channel string, limit int) (View, error) {
	rels, err := gh.ListReleases(ctx)
	if err != nil {
		return View{}, err
	}
	targets := h.Targets()
	var rows []VersionRow
	for _, r := range rels {
		if r.Draft {
			continue
		}
		if _, ok := version.Parse(r.Tag, prefix); !ok {
			continue
		}
		rows = append(rows, VersionRow{Version: strings.TrimPrefix(r.Tag, prefix), Tag: r.Tag, Date: r.Created, Gate: "unknown", Deploy: "unknown", Channels: []string{}})
		row := &rows[len(rows)-1]
		for _, ch := range sortedKeys(targets) {
			if targets[ch].Version == row.Version {
				row.Channels = append(row.Channels, ch)
				row.Digest = targets[ch].Digest
			}
		}
		if channel != "" && len(row.Channels) == 0 && !movedTo(h, channel, row.Version) {
			rows = rows[:len(rows)-1]
			continue
		}
		hasRecord := false
		for _, a := range r.Assets {
			hasRecord = hasRecord || a.Name == RecordAsset
		}
		if !hasRecord || (limit > 0 && len(rows) > limit) {
			continue
		}
		b, err := gh.FetchReleaseAsset(ctx, r.Tag, RecordAsset)
		if err != nil {
			return View{}, err
		}
		rec, err := ParseRecord(b)
		if err != nil {
			return View{}, fmt.Errorf("release %s: %w", r.Tag, err)
		}
		row.Gate, row.Deploy = verdict(rec.Gate), verdict(rec.DeployCheck)
		if rec.Accuracy > 0 {
			a := rec.Accuracy
			row.Accuracy = &a
		}
		if rec.Digest != "" {
			row.Digest = rec.Digest
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Date.After(rows[j].Date) })
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	return View{Versions: rows, Moves: nonNilMoves(h.Of(channel))}, nil
}

func movedTo(h History, channel, v string) bool {
	_, ok := h.WasIn(channel, v)
	return ok
}

func nonNilMoves(m []Move) []Move {
	if m == nil {
		return []Move{}
	}
	return m
}

func verdict(c Check) string {
	switch {
	case !c.Ran:
		return "unknown"
	case c.Passed:
		return "passed"
	}
	return "failed"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// WriteJSON writes v as indented JSON.
func (v View) WriteJSON(w io.Writer) error {
	if v.Versions == nil {
		v.Versions = []VersionRow{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteTable writes the versions, then the moves, as aligned text.
func (v View) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tDATE\tACCURACY\tGATE\tDEPLOY\tDIGEST\tCHANNELS")
	for _, r := range v.Versions {
		acc := "—"
		if r.Accuracy != nil {
			acc = fmt.Sprintf("%.2f%%", 100**r.Accuracy)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Version, r.Date.UTC().Format("2006-01-02"), acc, r.Gate, r.Deploy, shortDigest(r.Digest), strings.Join(r.Channels, ","))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "WHEN\tCHANNEL\tKIND\tFROM\tTO\tACTOR\tREASON")
	for _, m := range v.Moves {
		reason := m.Reason
		if m.Forced {
			reason = "FORCED (" + m.Checks + "): " + reason
		}
		from := m.From
		if from == "" {
			from = "—"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.At.UTC().Format("2006-01-02 15:04"), m.Channel, m.Kind, from, m.Version, m.Actor, reason)
	}
	return tw.Flush()
}

func shortDigest(d string) string {
	if d == "" {
		return "—"
	}
	if h, ok := strings.CutPrefix(d, "sha256:"); ok && len(h) > 12 {
		return "sha256:" + h[:12]
	}
	return d
}
