package promote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/model-release/model-release/internal/exitcode"
	"github.com/model-release/model-release/internal/github"
	"github.com/model-release/model-release/internal/version"
)

// Images is what a move needs of the registry: resolve a tag, point a tag
// at an existing digest. registry.Pusher implements it.
type Images interface {
	Digest(ctx context.Context, ref string) (string, error)
	Tag(ctx context.Context, ref, digest, tag string) error
}

// Releases is what a move needs of GitHub. github.Client implements it.
type Releases interface {
	GetRelease(ctx context.Context, tag string) (github.Release, error)
	FetchReleaseAsset(ctx context.Context, tag, name string) ([]byte, error)
	SetLatest(ctx context.Context, tag string) error
}

// Promoter moves channels. Build it with every field set but Now and Log.
type Promoter struct {
	GitHub    Releases
	Images    Images
	Store     Store
	Image     string   // image repository, e.g. ghcr.io/owner/name
	Channels  []string // in order; the last is production
	TagPrefix string   // release tag prefix, e.g. v
	Actor     string   // who moves, recorded in the history
	Now       func() time.Time
	Log       *slog.Logger
}

// Request asks to point Channel at Version.
type Request struct {
	Version string // 1.2.0 or with the tag prefix, v1.2.0
	Channel string
	Reason  string
	Force   bool // move although the version's checks did not pass; needs Reason
}

// RollbackRequest asks to move Channel back: to the version before the
// current one in its history, or to To.
type RollbackRequest struct {
	Channel string // default: the production channel
	To      string // optional version
	Reason  string
	Force   bool
}

// Result says what a move did.
type Result struct {
	Move   Move
	NoOp   bool // the channel already pointed there: nothing was written
	Tagged bool // the channel tag was written
	Latest bool // the release was marked latest
}

// RefusedError is a promotion refused because the version's checks did
// not pass. It exits with the gate-failed code.
type RefusedError struct {
	Tag      string
	Problems []string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refusing to promote %s: %s; pass --force with --reason to override", e.Tag, strings.Join(e.Problems, "; "))
}

// ExitCode is exitcode.GateFailed.
func (e *RefusedError) ExitCode() int { return exitcode.GateFailed }

// Production is the last channel.
func (p *Promoter) Production() string {
	if len(p.Channels) == 0 {
		return ""
	}
	return p.Channels[len(p.Channels)-1]
}

func (p *Promoter) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return p.Log
}

func (p *Promoter) now() time.Time {
	if p.Now == nil {
		return time.Now().UTC()
	}
	return p.Now().UTC()
}

func (p *Promoter) checkChannel(ch string) error {
	if ch == "" {
		return exitcode.AsUsage(errors.New("no channel: give --to (promote) or --channel (rollback)"))
	}
	if !slices.Contains(p.Channels, ch) {
		return exitcode.AsUsage(fmt.Errorf("channel %q is not one of the configured channels %s (option \"channels\")", ch, strings.Join(p.Channels, ", ")))
	}
	return nil
}

// tagOf turns "1.2.0" or "v1.2.0" into the release tag and the bare
// version, checking it is a semantic version.
func (p *Promoter) tagOf(v string) (tag, bare string, err error) {
	v = strings.TrimSpace(v)
	tag = v
	if p.TagPrefix == "" || !strings.HasPrefix(v, p.TagPrefix) {
		tag = p.TagPrefix + v
	}
	if _, ok := version.Parse(tag, p.TagPrefix); !ok {
		return "", "", exitcode.AsUsage(fmt.Errorf("version %q is not a semantic version such as 1.2.0 or %s1.2.0", v, p.TagPrefix))
	}
	return tag, strings.TrimPrefix(tag, p.TagPrefix), nil
}

var digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// target is a resolved destination of a move.
type target struct {
	tag, version, digest, anchor string
	forced                       bool
	checks                       string
}

// resolve reads the version's release, checks it may be promoted, and
// finds its digest.
func (p *Promoter) resolve(ctx context.Context, v string, force, check bool) (target, error) {
	tag, bare, err := p.tagOf(v)
	if err != nil {
		return target{}, err
	}
	rec, rel, err := ReadRecord(ctx, p.GitHub, tag)
	if err != nil {
		return target{}, err
	}
	t := target{tag: tag, version: bare, anchor: rec.Commit}
	if t.anchor == "" && len(rel.Target) == 40 {
		t.anchor = rel.Target
	}
	if check {
		if probs := rec.Problems(); len(probs) > 0 {
			if !force {
				return target{}, &RefusedError{Tag: tag, Problems: probs}
			}
			t.forced, t.checks = true, strings.Join(probs, "; ")
			p.log().Warn("forcing a version whose checks did not pass", "tag", tag, "checks", t.checks)
		}
	}
	t.digest = rec.Digest
	if t.digest == "" {
		ref := p.Image + ":" + versionTag(bare)
		if t.digest, err = p.Images.Digest(ctx, ref); err != nil {
			return target{}, fmt.Errorf("finding the image of %s (%s has no digest): %w", tag, RecordAsset, err)
		}
	}
	if !digestRe.MatchString(t.digest) {
		return target{}, fmt.Errorf("release %s: digest %q in %s is not sha256:<64 hex>", tag, t.digest, RecordAsset)
	}
	return t, nil
}

// versionTag is the image tag of a version, as registry.VersionTag makes
// it (1.2.3+b becomes 1.2.3_b).
func versionTag(bare string) string { return strings.ReplaceAll(bare, "+", "_") }

// Promote points req.Channel at req.Version. Re-running it is a no-op.
func (p *Promoter) Promote(ctx context.Context, req Request) (Result, error) {
	if err := p.checkChannel(req.Channel); err != nil {
		return Result{}, err
	}
	if req.Force && strings.TrimSpace(req.Reason) == "" {
		return Result{}, exitcode.AsUsage(errors.New("--force needs --reason: say why the checks are overridden, it is recorded"))
	}
	h, err := p.Store.Load(ctx)
	if err != nil {
		return Result{}, err
	}
	t, err := p.resolve(ctx, req.Version, req.Force, true)
	if err != nil {
		return Result{}, err
	}
	return p.move(ctx, h, req.Channel, KindPromote, req.Reason, t)
}

// Rollback moves a channel back one step in its history, or to req.To.
// A version the channel already served needs no checks; another one is
// checked like a promotion.
func (p *Promoter) Rollback(ctx context.Context, req RollbackRequest) (Result, error) {
	if req.Channel == "" {
		req.Channel = p.Production()
	}
	if err := p.checkChannel(req.Channel); err != nil {
		return Result{}, err
	}
	if req.Force && strings.TrimSpace(req.Reason) == "" {
		return Result{}, exitcode.AsUsage(errors.New("--force needs --reason: say why the checks are overridden, it is recorded"))
	}
	h, err := p.Store.Load(ctx)
	if err != nil {
		return Result{}, err
	}
	var t target
	if req.To == "" {
		prev, ok := h.RollbackTarget(req.Channel)
		if !ok {
			return Result{}, fmt.Errorf("channel %s has no earlier version in its history to roll back to: name one with --to", req.Channel)
		}
		t = target{tag: prev.Tag, version: prev.Version, digest: prev.Digest}
	} else {
		tag, bare, err := p.tagOf(req.To)
		if err != nil {
			return Result{}, err
		}
		if prev, ok := h.WasIn(req.Channel, bare); ok {
			t = target{tag: tag, version: bare, digest: prev.Digest}
		} else if t, err = p.resolve(ctx, req.To, req.Force, true); err != nil {
			return Result{}, err
		}
	}
	return p.move(ctx, h, req.Channel, KindRollback, req.Reason, t)
}

// move writes the channel tag when it differs, records the move when the
// history does not already end there, and marks the production release as
// latest. Each step is skipped when already done, so a re-run after a
// failure part-way completes the move without duplicating anything.
func (p *Promoter) move(ctx context.Context, h History, channel, kind, reason string, t target) (Result, error) {
	log := p.log().With("channel", channel, "version", t.version)
	ref := p.Image + ":" + channel
	tagged, err := p.Images.Digest(ctx, ref)
	if err != nil {
		log.Debug("channel tag not readable; it will be written", "ref", ref, "err", err)
		tagged = ""
	}
	cur, hasCur := h.Current(channel)
	m := Move{
		Channel: channel, Version: t.version, Tag: t.tag, Digest: t.digest, Kind: kind,
		Actor: p.Actor, At: p.now(), Reason: reason, Forced: t.forced, Checks: t.checks,
		FromDigest: tagged,
	}
	if hasCur {
		m.From = cur.Version
		if m.FromDigest == "" {
			m.FromDigest = cur.Digest
		}
	}
	res := Result{Move: m}
	recorded := hasCur && cur.Version == t.version && cur.Digest == t.digest
	if tagged != t.digest {
		if err := p.Images.Tag(ctx, ref, t.digest, channel); err != nil {
			return res, fmt.Errorf("moving channel %s to %s: %w", channel, t.tag, err)
		}
		res.Tagged = true
		log.Info("channel tag moved", "ref", ref, "digest", t.digest, "from", tagged)
	}
	if !recorded {
		h.Moves = append(h.Moves, m)
		if err := p.Store.Save(ctx, h, t.anchor); err != nil {
			return res, fmt.Errorf("the channel tag moved but the move was not recorded (re-run to record it): %w", err)
		}
		log.Info("move recorded", "kind", kind, "from", m.From, "actor", m.Actor, "forced", m.Forced)
	} else {
		res.Move = cur
	}
	res.NoOp = recorded && !res.Tagged
	if channel == p.Production() {
		latest, err := p.GitHub.GetRelease(ctx, "")
		if err != nil && !errors.Is(err, github.ErrNotFound) {
			return res, err
		}
		if err != nil || latest.Tag != t.tag {
			if err := p.GitHub.SetLatest(ctx, t.tag); err != nil {
				return res, fmt.Errorf("marking %s as the latest release: %w", t.tag, err)
			}
			res.Latest = true
			res.NoOp = false
		}
	}
	if res.NoOp {
		log.Info("channel already points at this version: nothing to do")
	}
	return res, nil
}
