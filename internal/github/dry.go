package github

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Dry stands in for Client in a dry run: Publish, Comment and PostStatus
// print each call the real client would make (method, path, what the body
// says) and write nothing. It needs no token and no network.
type Dry struct {
	W          io.Writer
	Repository string // owner/name, for the printed paths
}

func (d Dry) say(method, path, what string) {
	fmt.Fprintf(d.W, "would %s /%s: %s\n", method, path, what)
}

func (d Dry) repoPath(p string) string { return "repos/" + d.Repository + "/" + p }

// Publish prints the calls of a release from scratch.
func (d Dry) Publish(_ context.Context, spec ReleaseSpec) (Release, error) {
	if spec.Tag == "" {
		return Release{}, errors.New("release needs a tag: give --tag")
	}
	if !shaRe.MatchString(spec.SHA) {
		return Release{}, fmt.Errorf("release commit %q is not a full 40-character lowercase SHA: give --sha $GITHUB_SHA", spec.SHA)
	}
	if spec.Name == "" {
		spec.Name = spec.Tag
	}
	d.say("GET", d.repoPath("git/ref/tags/"+spec.Tag), "check that tag "+spec.Tag+" is absent or at "+short(spec.SHA))
	d.say("GET", d.repoPath("releases"), "find a release or leftover draft for "+spec.Tag)
	d.say("POST", d.repoPath("releases"), fmt.Sprintf("create draft release %q tag_name=%s target_commitish=%s prerelease=%t body=%d bytes", spec.Name, spec.Tag, spec.SHA, spec.Prerelease, len(spec.Body)))
	for _, a := range withSums(spec.Assets) {
		d.say("POST", d.repoPath("releases/{id}/assets?name="+a.Name)+" (uploads)", fmt.Sprintf("upload %d bytes, sha256 %s", len(a.Data), digest(a.Data)))
	}
	if spec.Draft {
		return Release{Tag: spec.Tag, Name: spec.Name, Body: spec.Body, Target: spec.SHA, Prerelease: spec.Prerelease, Draft: true}, nil
	}
	latest := spec.MakeLatest && !spec.Prerelease
	d.say("PATCH", d.repoPath("releases/{id}"), fmt.Sprintf("publish release %s draft=false make_latest=%t", spec.Tag, latest))
	return Release{Tag: spec.Tag, Name: spec.Name, Body: spec.Body, Target: spec.SHA, Prerelease: spec.Prerelease}, nil
}

// Comment prints the calls of a first sticky comment.
func (d Dry) Comment(_ context.Context, spec CommentSpec) (CommentResult, error) {
	model, sha, ok := ParseMarker(spec.Body)
	if !ok {
		return CommentResult{}, fmt.Errorf("comment body does not start with the model-release marker line %q", Marker("<model>", "<sha>"))
	}
	d.say("GET", "user", "learn the token's login (github-actions[bot] when forbidden)")
	d.say("GET", d.repoPath(fmt.Sprintf("issues/%d/comments", spec.PR)), fmt.Sprintf("find the comment for model %s", model))
	d.say("POST", d.repoPath(fmt.Sprintf("issues/%d/comments", spec.PR)), fmt.Sprintf("create or update (PATCH issues/comments/{id}) the comment for %s: %d bytes", short(sha), len(spec.Body)))
	return CommentResult{Outcome: Created}, nil
}

// PostStatus prints the calls of a gate check run.
func (d Dry) PostStatus(_ context.Context, spec StatusSpec) (StatusResult, error) {
	switch spec.State {
	case StatePending, StateSuccess, StateFailure:
	default:
		return StatusResult{}, fmt.Errorf("status state %q is not one of pending, success, failure", spec.State)
	}
	d.say("GET", d.repoPath("commits/"+spec.SHA+"/check-runs?check_name="+CheckName), "find the gate check run")
	d.say("POST", d.repoPath("check-runs"), fmt.Sprintf("create or update (PATCH check-runs/{id}) %q state=%s title=%q summary=%d bytes (commit status %s if checks are forbidden)", CheckName, spec.State, firstLine(spec.Title), len(spec.Summary), StatusContext))
	return StatusResult{Kind: "check-run"}, nil
}
