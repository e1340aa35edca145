package registry

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Repository normalizes an image repository: trimmed and lowercased, since
// GitHub owners and repository names may carry capitals but image names may
// not. A tag or digest in it is an error: tags are given separately.
func Repository(image string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(image))
	if s == "" {
		return "", fmt.Errorf("image is empty: give a repository such as ghcr.io/owner/name")
	}
	if strings.Contains(s, "@") || strings.Contains(s[strings.LastIndex(s, "/")+1:], ":") {
		return "", fmt.Errorf("image %q names a tag or digest: give the repository only (ghcr.io/owner/name) and tags with --tag", image)
	}
	r, err := name.NewRepository(s, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("image %q is not a valid repository such as ghcr.io/owner/name: %w", image, err)
	}
	return r.Name(), nil
}

var (
	badTagChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)
	tagRe       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// VersionTag maps a semantic version to a valid image tag. The leading "v"
// is dropped (images are tagged 1.2.3, as goreleaser and ko do) and "+",
// which tags may not contain, becomes "_" (the Helm and Docker convention):
// v1.2.3-rc.1+build.5 is tagged 1.2.3-rc.1_build.5.
func VersionTag(version string) string {
	v := strings.TrimPrefix(strings.TrimSpace(version), "v")
	v = strings.ReplaceAll(v, "+", "_")
	v = badTagChars.ReplaceAllString(v, "-")
	if len(v) > 128 {
		v = v[:128]
	}
	return v
}

// ValidTag reports whether s may be used as an image tag.
func ValidTag(s string) bool { return tagRe.MatchString(s) }

// TagSet is what the tags of one push are made from.
type TagSet struct {
	Version string   // semver, tagged via VersionTag
	Commit  string   // full or short SHA: tagged sha-<7 hex>
	PR      int      // pull request number: tagged pr-<N>
	Extra   []string // further tags, e.g. a channel
}

// Tags lists the tags of a push, without duplicates, in a fixed order:
// version, sha, pr, extras. Invalid extras are an error naming them.
func Tags(ts TagSet) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(t string) {
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if ts.Version != "" {
		add(VersionTag(ts.Version))
	}
	if c := strings.ToLower(strings.TrimSpace(ts.Commit)); c != "" {
		if len(c) < 7 || strings.Trim(c, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("commit %q is not a hex SHA of at least 7 characters", ts.Commit)
		}
		add("sha-" + c[:7])
	}
	if ts.PR > 0 {
		add("pr-" + strconv.Itoa(ts.PR))
	}
	for _, t := range ts.Extra {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !ValidTag(t) {
			return nil, fmt.Errorf("tag %q is not valid: use letters, digits, _ . - (at most 128, not starting with . or -)", t)
		}
		add(t)
	}
	return out, nil
}
