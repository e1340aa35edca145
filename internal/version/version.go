// Package version works out the next semantic version of a model from the
// repository's existing tags, the pull request's labels and the merged
// commit messages. It is pure: callers fetch tags, labels and commits.
package version

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Bump kinds. Auto reads labels first, then conventional-commit prefixes.
const (
	Major = "major"
	Minor = "minor"
	Patch = "patch"
	Auto  = "auto"
)

// Input is everything Next needs.
type Input struct {
	Tags     []string // every tag name in the repository; foreign and invalid ones are ignored
	Prefix   string   // tag prefix, e.g. "v" or "model-v"
	Bump     string   // major, minor, patch or auto ("" means auto)
	Explicit string   // an explicit version ("1.2.3" or "<prefix>1.2.3"); wins over Bump
	Labels   []string // the pull request's labels (auto)
	Commits  []string // messages of the merged commits (auto)
	// Prerelease, when set (e.g. "rc" for a non-default branch), makes the
	// result <next>-<Prerelease>.N with N one above the highest existing.
	Prerelease string
}

// Result is the chosen version and why.
type Result struct {
	Version  *semver.Version
	Tag      string // Prefix + Version
	Previous string // the latest stable tag it was bumped from ("" for the first)
	Bump     string // the bump applied (major, minor, patch), "" for explicit
	Reason   string // human-readable: "label release:minor", "commit feat!: ...", "explicit"
}

// Next returns the next version. A bad explicit version or bump kind is an
// error; invalid tags in the repository are not.
func Next(in Input) (Result, error) {
	if in.Explicit != "" {
		s := strings.TrimPrefix(in.Explicit, in.Prefix)
		v, err := semver.NewVersion(s)
		if err != nil || strings.Count(strings.TrimPrefix(s, "v"), ".") < 2 {
			return Result{}, fmt.Errorf("version %q is not a semantic version such as 1.2.3: give MAJOR.MINOR.PATCH", in.Explicit)
		}
		prev, _ := Latest(in.Tags, in.Prefix)
		return Result{Version: v, Tag: in.Prefix + v.String(), Previous: prevTag(prev, in.Prefix), Reason: "explicit version"}, nil
	}
	bump, reason := in.Bump, "bump "+in.Bump
	switch bump {
	case Major, Minor, Patch:
	case "", Auto:
		bump, reason = Decide(in.Labels, in.Commits)
	default:
		return Result{}, fmt.Errorf("bump %q is not one of major, minor, patch, auto", in.Bump)
	}
	prev, ok := Latest(in.Tags, in.Prefix)
	var next semver.Version
	if !ok {
		// The first release: 0.1.0 unless a major bump was asked for.
		next = *semver.New(0, 1, 0, "", "")
		if bump == Major {
			next = *semver.New(1, 0, 0, "", "")
		}
	} else {
		switch bump {
		case Major:
			next = prev.IncMajor()
		case Minor:
			next = prev.IncMinor()
		default:
			next = prev.IncPatch()
		}
	}
	if in.Prerelease != "" {
		id := in.Prerelease
		n := nextPrereleaseNumber(in.Tags, in.Prefix, next, id)
		v, err := next.SetPrerelease(id + "." + strconv.Itoa(n))
		if err != nil {
			return Result{}, fmt.Errorf("pre-release %q is not a valid semver identifier: use letters, digits and hyphens: %w", id, err)
		}
		next = v
	}
	res := Result{Version: &next, Tag: in.Prefix + next.String(), Bump: bump, Reason: reason}
	if ok {
		res.Previous = prevTag(prev, in.Prefix)
	}
	return res, nil
}

func prevTag(v *semver.Version, prefix string) string {
	if v == nil {
		return ""
	}
	return prefix + v.String()
}

// Parse returns the version of tag when it is prefix + a strict semver.
func Parse(tag, prefix string) (*semver.Version, bool) {
	if !strings.HasPrefix(tag, prefix) {
		return nil, false
	}
	v, err := semver.StrictNewVersion(strings.TrimPrefix(tag, prefix))
	if err != nil {
		return nil, false
	}
	return v, true
}

// Latest returns the highest stable (non pre-release) version among tags
// carrying prefix; ok is false when there is none.
func Latest(tags []string, prefix string) (*semver.Version, bool) {
	var best *semver.Version
	for _, t := range tags {
		v, ok := Parse(t, prefix)
		if !ok || v.Prerelease() != "" {
			continue
		}
		if best == nil || v.GreaterThan(best) {
			best = v
		}
	}
	return best, best != nil
}

// Sorted returns the valid tags carrying prefix, highest version first.
func Sorted(tags []string, prefix string) []string {
	type tv struct {
		tag string
		v   *semver.Version
	}
	var vs []tv
	for _, t := range tags {
		if v, ok := Parse(t, prefix); ok {
			vs = append(vs, tv{t, v})
		}
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].v.GreaterThan(vs[j].v) })
	out := make([]string, len(vs))
	for i, x := range vs {
		out[i] = x.tag
	}
	return out
}

func nextPrereleaseNumber(tags []string, prefix string, base semver.Version, id string) int {
	n := 0
	for _, t := range tags {
		v, ok := Parse(t, prefix)
		if !ok || v.Major() != base.Major() || v.Minor() != base.Minor() || v.Patch() != base.Patch() {
			continue
		}
		rest, found := strings.CutPrefix(v.Prerelease(), id+".")
		if !found {
			continue
		}
		if k, err := strconv.Atoi(rest); err == nil && k > n {
			n = k
		}
	}
	return n + 1
}

// Release labels read by auto.
const (
	LabelMajor = "release:major"
	LabelMinor = "release:minor"
	LabelPatch = "release:patch"
)

var (
	breakingRe = regexp.MustCompile(`^[a-zA-Z]+(\([^)]*\))?!:`)
	featRe     = regexp.MustCompile(`^feat(\([^)]*\))?:`)
	footerRe   = regexp.MustCompile(`(?m)^BREAKING[ -]CHANGE:`)
)

// Decide picks the bump for auto: the highest release:* label when any,
// else the highest conventional-commit level among the commits (feat!: or a
// BREAKING CHANGE footer: major; feat: minor), else patch.
func Decide(labels, commits []string) (bump, reason string) {
	rank := map[string]int{Patch: 1, Minor: 2, Major: 3}
	best := ""
	for _, l := range labels {
		var b string
		switch strings.ToLower(strings.TrimSpace(l)) {
		case LabelMajor:
			b = Major
		case LabelMinor:
			b = Minor
		case LabelPatch:
			b = Patch
		}
		if b != "" && rank[b] > rank[best] {
			best = b
		}
	}
	if best != "" {
		return best, "label release:" + best
	}
	why := ""
	for _, c := range commits {
		subject, _, _ := strings.Cut(strings.TrimSpace(c), "\n")
		var b string
		switch {
		case breakingRe.MatchString(subject) || footerRe.MatchString(c):
			b = Major
		case featRe.MatchString(subject):
			b = Minor
		}
		if b != "" && rank[b] > rank[best] {
			best, why = b, subject
		}
	}
	if best != "" {
		return best, fmt.Sprintf("commit %q", why)
	}
	return Patch, "no release label or feat/breaking commit"
}
