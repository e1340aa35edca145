package promote

import (
	"encoding/json"
	"fmt"
	"time"
)

// HistorySchema is the version of the channels.json format.
const HistorySchema = 1

// Kinds of moves.
const (
	KindPromote  = "promote"
	KindRollback = "rollback"
)

// Move is one change of a channel: it now points at Version (Digest).
type Move struct {
	Channel string `json:"channel"`
	Version string `json:"version"` // without prefix, e.g. 1.2.0
	Tag     string `json:"tag"`     // the release tag, e.g. v1.2.0
	Digest  string `json:"digest"`  // manifest digest the channel tag now names
	From    string `json:"from,omitempty"`
	// FromDigest is what the channel tag named before, "" when it was new.
	FromDigest string    `json:"from_digest,omitempty"`
	Kind       string    `json:"kind"` // promote or rollback
	Actor      string    `json:"actor"`
	At         time.Time `json:"at"`
	Reason     string    `json:"reason,omitempty"`
	// Forced is set when the version's checks had not passed and --force
	// moved it anyway; Checks says what was overridden.
	Forced bool   `json:"forced,omitempty"`
	Checks string `json:"checks,omitempty"`
}

// History is every channel move, oldest first.
type History struct {
	Schema int    `json:"schema"`
	Moves  []Move `json:"moves"`
}

// ParseHistory decodes channels.json.
func ParseHistory(b []byte) (History, error) {
	var h History
	if err := json.Unmarshal(b, &h); err != nil {
		return History{}, fmt.Errorf("channel history is not valid JSON: %w", err)
	}
	if h.Schema > HistorySchema {
		return History{}, fmt.Errorf("channel history has schema %d, newer than this model-release understands (%d): upgrade model-release", h.Schema, HistorySchema)
	}
	for i, m := range h.Moves {
		if m.Channel == "" || m.Version == "" || m.Digest == "" {
			return History{}, fmt.Errorf("channel history: move %d lacks channel, version or digest", i+1)
		}
	}
	return h, nil
}

// Encode renders channels.json.
func (h History) Encode() ([]byte, error) {
	h.Schema = HistorySchema
	if h.Moves == nil {
		h.Moves = []Move{}
	}
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding channel history: %w", err)
	}
	return append(b, '\n'), nil
}

// Current is the last move of channel, ok false when it never moved.
func (h History) Current(channel string) (Move, bool) {
	for i := len(h.Moves) - 1; i >= 0; i-- {
		if h.Moves[i].Channel == channel {
			return h.Moves[i], true
		}
	}
	return Move{}, false
}

// Of returns the moves of channel ("" for all), oldest first.
func (h History) Of(channel string) []Move {
	var out []Move
	for _, m := range h.Moves {
		if channel == "" || m.Channel == channel {
			out = append(out, m)
		}
	}
	return out
}

// stack replays channel's moves: a promotion pushes its version, a
// rollback pops back to its version (or pushes it when it was never
// there). The top is the current version; the one below is where a
// rollback goes, so rolling back twice walks two steps back rather than
// bouncing between two versions.
func (h History) stack(channel string) []Move {
	var st []Move
	for _, m := range h.Of(channel) {
		if m.Kind == KindRollback {
			if i := lastIndex(st, m.Version); i >= 0 {
				st = st[:i+1]
				st[i] = m
				continue
			}
		}
		if len(st) > 0 && st[len(st)-1].Version == m.Version {
			st[len(st)-1] = m
			continue
		}
		st = append(st, m)
	}
	return st
}

func lastIndex(st []Move, version string) int {
	for i := len(st) - 1; i >= 0; i-- {
		if st[i].Version == version {
			return i
		}
	}
	return -1
}

// RollbackTarget is the version channel returns to on a rollback without
// --to; ok is false when there is no earlier version.
func (h History) RollbackTarget(channel string) (Move, bool) {
	st := h.stack(channel)
	if len(st) < 2 {
		return Move{}, false
	}
	return st[len(st)-2], true
}

// WasIn reports whether channel ever pointed at version.
func (h History) WasIn(channel, version string) (Move, bool) {
	for i := len(h.Moves) - 1; i >= 0; i-- {
		if m := h.Moves[i]; m.Channel == channel && m.Version == version {
			return m, true
		}
	}
	return Move{}, false
}

// Targets maps each channel to the version it points at now.
func (h History) Targets() map[string]Move {
	out := map[string]Move{}
	for _, m := range h.Moves {
		out[m.Channel] = m
	}
	return out
}

// LastTargeted is, per version, the last moment a channel pointed at it:
// now for current targets, else when the channel moved away.
func (h History) LastTargeted(now time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	current := map[string]Move{}
	for _, m := range h.Moves {
		if prev, ok := current[m.Channel]; ok && prev.Version != m.Version {
			if m.At.After(out[prev.Version]) {
				out[prev.Version] = m.At
			}
		}
		current[m.Channel] = m
	}
	for _, m := range current {
		out[m.Version] = now
	}
	return out
}
