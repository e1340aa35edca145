package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/exitcode"
	"github.com/model-release/model-release/internal/github/githubtest"
	"github.com/model-release/model-release/internal/promote"
	"github.com/model-release/model-release/internal/registry/registrytest"
)

// e2e runs the action entrypoint in-process, as the Docker action does,
// against the fake GitHub and an in-memory registry, training the seed
// network for one epoch on the embedded sample.
type e2e struct {
	t        *testing.T
	gh       *githubtest.Server
	registry string // host:port
	work     string
	binary   string
}

func newE2E(t *testing.T) *e2e {
	dir := t.TempDir()
	// A small stand-in for the static binary the image carries: the test
	// binary itself would make every push upload tens of megabytes.
	bin := filepath.Join(dir, "model-release")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho stand-in\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &e2e{t: t, gh: githubtest.New(t), registry: registrytest.New(t), work: dir, binary: bin}
}

type actionRun struct {
	model   string // the model folder the run trained
	err     error
	stdout  string
	outputs map[string]string
	summary string
}

// run executes the action for one event fixture; sha and ref are what the
// runner sets as GITHUB_SHA and GITHUB_REF. It trains unless the model
// input names a trained model.
func (e *e2e) run(eventName, fixture, sha, ref string, inputs map[string]string) actionRun {
	t := e.t
	t.Helper()
	dir := t.TempDir()
	out, sum := filepath.Join(dir, "output"), filepath.Join(dir, "summary")
	for _, f := range []string{out, sum} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"GITHUB_EVENT_NAME":   eventName,
		"GITHUB_EVENT_PATH":   filepath.Join("..", "..", "testdata", "events", fixture),
		"GITHUB_SHA":          sha,
		"GITHUB_REF":          ref,
		"GITHUB_REPOSITORY":   "octo/cifar",
		"GITHUB_API_URL":      e.gh.URL,
		"GITHUB_ACTIONS":      "true",
		"GITHUB_OUTPUT":       out,
		"GITHUB_STEP_SUMMARY": sum,
		"GITHUB_SERVER_URL":   "https://github.com",
		"GITHUB_RUN_ID":       "42",
		"GITHUB_ACTOR":        "octocat",
		"SOURCE_DATE_EPOCH":   "1700000000",
		"INPUT_GITHUB-TOKEN":  githubtest.DefaultToken,
		"INPUT_ARCHITECTURE":  "seed",
		"INPUT_EPOCHS":        "1",
		"INPUT_MIN-ACCURACY":  "0",
		"INPUT_REGISTRY":      e.registry,
		// Each run trains afresh in its own folder, as on a fresh runner.
		"MODEL_RELEASE_WORK_DIR": filepath.Join(dir, "work"),
		"MODEL_RELEASE_BINARY":   e.binary,
	}
	for k, v := range inputs {
		env["INPUT_"+strings.ToUpper(k)] = v
	}
	var stdout, stderr bytes.Buffer
	err := realMain(context.Background(), []string{"action"}, &stdout, &stderr, actionEnv(t, env))
	if t.Failed() {
		t.Logf("stderr:\n%s", stderr.String())
	}
	o, _ := os.ReadFile(out)
	s, _ := os.ReadFile(sum)
	r := actionRun{model: filepath.Join(dir, "work", "model"), err: err, stdout: stdout.String(), outputs: parseOutputs(t, string(o)), summary: string(s)}
	if strings.Contains(stdout.String()+stderr.String(), githubtest.DefaultToken) && !strings.Contains(stdout.String(), "::add-mask::"+githubtest.DefaultToken) {
		t.Errorf("the token was printed unmasked")
	}
	return r
}

// parseOutputs reads GITHUB_OUTPUT's name<<DELIM ... DELIM blocks.
func parseOutputs(t *testing.T, s string) map[string]string {
	out := map[string]string{}
	lines := strings.Split(s, "\n")
	for i := 0; i < len(lines); i++ {
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			continue
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}

const (
	prSHA    = "1111111111111111111111111111111111111111"
	forkSHA  = "2222222222222222222222222222222222222222"
	mainSHA  = "3333333333333333333333333333333333333333"
	tagSHA   = "4444444444444444444444444444444444444444"
	dispatch = "5555555555555555555555555555555555555555"
)

func TestActionEndToEnd(t *testing.T) {
	e := newE2E(t)
	e.gh.SetPR(githubtest.PR{Number: 7, HeadSHA: prSHA, Labels: []string{"minor"}, Commits: []string{"feat: wider convnet"}})
	repo := e.registry + "/octo/cifar"

	// Pull request from the same repository: image pr-7, comment, check.
	pr := e.run("pull_request", "pull_request_opened.json", "merge-sha", "refs/pull/7/merge", nil)
	if pr.err != nil {
		t.Fatalf("pull request run: %v\n%s", pr.err, pr.stdout)
	}
	if pr.outputs["passed"] != "true" || pr.outputs["image"] != repo+":pr-7" || !strings.HasPrefix(pr.outputs["digest"], "sha256:") || pr.outputs["comment-url"] == "" {
		t.Errorf("pull request outputs %v", pr.outputs)
	}
	for _, g := range []string{"::group::preflight", "::group::train", "::group::verify", "::group::comment"} {
		if !strings.Contains(pr.stdout, g) {
			t.Errorf("stdout lacks %s", g)
		}
	}
	if !strings.Contains(pr.summary, "seed") || !strings.Contains(pr.summary, pr.outputs["digest"]) {
		t.Errorf("summary does not name the model and its digest:\n%s", pr.summary)
	}
	cs := e.gh.Comments(7)
	if len(cs) != 1 || !strings.HasPrefix(cs[0].Body, "<!-- model-release:comment model=seed sha="+prSHA+" -->") {
		t.Fatalf("comments on #7: %+v", cs)
	}
	if runs := checkRunsFor(e.gh, prSHA); len(runs) != 1 || runs[0].Conclusion != "success" {
		t.Errorf("check runs on the PR head: %+v", runs)
	}
	labels, digest := registrytest.Labels(t, repo+":pr-7")
	if digest != pr.outputs["digest"] || labels["org.opencontainers.image.revision"] != prSHA || labels["io.github.model-release.architecture"] != "seed" || labels["io.github.model-release.weights-sha256"] == "" {
		t.Errorf("pr-7 image %s labels %v", digest, labels)
	}

	// Later runs reuse this model where training again adds nothing.
	trained := map[string]string{"model": pr.model}

	// The same pull request again: the one comment is updated.
	if again := e.run("pull_request", "pull_request_opened.json", "merge-sha", "refs/pull/7/merge", trained); again.err != nil {
		t.Fatalf("pull request re-run: %v", again.err)
	}
	if cs := e.gh.Comments(7); len(cs) != 1 {
		t.Errorf("re-run left %d comments, want 1", len(cs))
	}

	// A fork's pull request: nothing written, the summary says why.
	fork := e.run("pull_request", "pull_request_synchronize_fork.json", "merge-sha", "refs/pull/8/merge", trained)
	if fork.err != nil {
		t.Fatalf("fork run: %v", fork.err)
	}
	if len(e.gh.Comments(8)) != 0 || len(checkRunsFor(e.gh, forkSHA)) != 0 || len(e.gh.Statuses(forkSHA)) != 0 || fork.outputs["image"] != "" {
		t.Errorf("fork run wrote: comments %v, outputs %v", e.gh.Comments(8), fork.outputs)
	}
	if !strings.Contains(fork.summary, "stranger/cifar") {
		t.Errorf("fork summary does not explain:\n%s", fork.summary)
	}

	// Push to main: a release with its assets and the versioned image;
	// twice, each training afresh, still one release and one tag.
	var tag string
	for i := range 2 {
		rel := e.run("push", "push_main.json", mainSHA, "refs/heads/main", nil)
		if rel.err != nil {
			t.Fatalf("push to main (run %d): %v\n%s", i+1, rel.err, rel.stdout)
		}
		tag = rel.outputs["tag"]
		if tag == "" || rel.outputs["version"] == "" || !strings.Contains(rel.outputs["release-url"], "/releases/") {
			t.Fatalf("release outputs %v", rel.outputs)
		}
		if rec := checkRelease(t, e, tag, mainSHA); rec.Digest != rel.outputs["digest"] {
			t.Errorf("release.json of %s names digest %s, the run pushed %s", tag, rec.Digest, rel.outputs["digest"])
		}
		labels, digest := registrytest.Labels(t, repo+":"+rel.outputs["version"])
		if digest != rel.outputs["digest"] || labels["org.opencontainers.image.version"] != rel.outputs["version"] || labels["io.github.model-release.gate"] != "passed" {
			t.Errorf("release image %s labels %v", digest, labels)
		}
		if _, d := registrytest.Labels(t, repo+":candidate"); d != digest {
			t.Errorf("channel candidate is at %s, want the release digest %s", d, digest)
		}
	}
	// No tags yet, and PR #7 (named in the merge commit) is labelled minor.
	if tag != "v0.1.0" {
		t.Errorf("first release tag %q, want v0.1.0", tag)
	}

	// A pushed tag releases exactly that version.
	tg := e.run("push", "push_tag.json", tagSHA, "refs/tags/v2.0.0", trained)
	if tg.err != nil || tg.outputs["tag"] != "v2.0.0" {
		t.Fatalf("tag push: %v, outputs %v", tg.err, tg.outputs)
	}
	checkRelease(t, e, "v2.0.0", tagSHA)

	// workflow_dispatch with command run releases the next patch.
	wd := e.run("workflow_dispatch", "workflow_dispatch.json", dispatch, "refs/heads/main", trained)
	if wd.err != nil || wd.outputs["tag"] != "v2.0.1" {
		t.Fatalf("dispatch: %v, outputs %v", wd.err, wd.outputs)
	}
	checkRelease(t, e, "v2.0.1", dispatch)

	tags := registrytest.Tags(t, repo)
	sort.Strings(tags)
	for _, want := range []string{"2.0.0", "2.0.1", "candidate", "pr-7", strings.TrimPrefix(tag, "v")} {
		if !slices.Contains(tags, want) {
			t.Errorf("registry tags %v lack %s", tags, want)
		}
	}
	ghTags := e.gh.Tags()
	// The channel history's release adds its one tag, at the first release.
	if len(ghTags) != 4 || ghTags[promote.HistoryTag] != mainSHA || ghTags[tag] != mainSHA || ghTags["v2.0.0"] != tagSHA || ghTags["v2.0.1"] != dispatch {
		t.Errorf("git tags %v", ghTags)
	}
}

// checkRelease asserts one published release for tag at sha with the
// model's files, their checksums and a release.json that allows its
// promotion, and returns that record.
func checkRelease(t *testing.T, e *e2e, tag, sha string) promote.Record {
	t.Helper()
	var found []githubtest.Release
	for _, r := range e.gh.Releases() {
		if r.Tag == tag {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d releases for %s, want 1", len(found), tag)
	}
	r := found[0]
	if r.Draft || r.Target != sha {
		t.Errorf("release %s: draft %v, target %s", tag, r.Draft, r.Target)
	}
	var names []string
	for _, a := range r.Assets {
		names = append(names, a.Name)
	}
	sort.Strings(names)
	if want := []string{"MODEL_CARD.md", "SHA256SUMS", "metrics.json", "model.json", "model.safetensors", promote.RecordAsset}; !reflect.DeepEqual(names, want) {
		t.Errorf("release %s assets %v, want %v", tag, names, want)
	}
	if !strings.Contains(r.Body, "seed") {
		t.Errorf("release %s notes do not name the model:\n%s", tag, r.Body)
	}
	var rec promote.Record
	for _, a := range r.Assets {
		if a.Name == promote.RecordAsset {
			var err error
			if rec, err = promote.ParseRecord(a.Data); err != nil {
				t.Fatalf("release %s: %v", tag, err)
			}
		}
	}
	if rec.Tag != tag || rec.Commit != sha || !strings.HasPrefix(rec.Digest, "sha256:") || !strings.HasSuffix(rec.Image, "/octo/cifar") ||
		rec.Accuracy <= 0 || len(rec.Problems()) != 0 || !strings.Contains(rec.DeployCheck.Detail, "held-out images") {
		t.Errorf("release %s record %+v (problems %v)", tag, rec, rec.Problems())
	}
	return rec
}

func checkRunsFor(s *githubtest.Server, sha string) []githubtest.CheckRun {
	var out []githubtest.CheckRun
	for _, c := range s.CheckRuns() {
		if c.HeadSHA == sha {
			out = append(out, c)
		}
	}
	return out
}

func TestActionPreflightFailsBeforeTraining(t *testing.T) {
	e := newE2E(t)
	e.gh.ReadOnly(true)
	r := e.run("push", "push_main.json", mainSHA, "refs/heads/main", map[string]string{"epochs": "50"})
	if exitcode.For(r.err) != exitcode.Error || !strings.Contains(r.err.Error(), "preflight: token can write releases") {
		t.Fatalf("err %v", r.err)
	}
	if strings.Contains(r.stdout, "::group::load data") {
		t.Errorf("went past preflight:\n%s", r.stdout)
	}

	// A pinned tag already on another commit.
	e = newE2E(t)
	e.gh.AddTag("v2.0.0", "9999999999999999999999999999999999999999")
	r = e.run("push", "push_tag.json", tagSHA, "refs/tags/v2.0.0", map[string]string{"epochs": "50"})
	if r.err == nil || !strings.Contains(r.err.Error(), "tag v2.0.0 already points at commit 999999999999") {
		t.Fatalf("err %v", r.err)
	}

	// A dataset that is not there.
	e = newE2E(t)
	r = e.run("pull_request", "pull_request_opened.json", "merge-sha", "refs/pull/7/merge", map[string]string{"data": filepath.Join(e.work, "nope")})
	if r.err == nil || !strings.Contains(r.err.Error(), "preflight: dataset reachable") {
		t.Fatalf("err %v", r.err)
	}
}

// history reads the channel history through the history command.
func (e *e2e) history() promote.View {
	t := e.t
	t.Helper()
	env := map[string]string{"GITHUB_TOKEN": githubtest.DefaultToken, "GITHUB_REPOSITORY": "octo/cifar", "GITHUB_API_URL": e.gh.URL}
	out, errOut, code := runCLI(t, env, "history", "--json")
	if code != 0 {
		t.Fatalf("history: exit %d %s", code, errOut)
	}
	var v promote.View
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("history --json: %v\n%s", err, out)
	}
	return v
}

func movesOf(v promote.View) []string {
	var out []string
	for _, m := range v.Moves {
		out = append(out, fmt.Sprintf("%s %s %s->%s by %s: %s", m.Kind, m.Channel, m.From, m.Version, m.Actor, m.Reason))
	}
	return out
}

// A release promotes itself to candidate through the channel history; a
// workflow_dispatch promote moves stable and marks the release latest;
// re-running either changes nothing.
func TestActionReleaseThenDispatchPromote(t *testing.T) {
	e := newE2E(t)
	e.gh.SetPR(githubtest.PR{Number: 7, HeadSHA: prSHA, Labels: []string{"minor"}})
	repo := e.registry + "/octo/cifar"
	first := e.run("push", "push_main.json", mainSHA, "refs/heads/main", nil)
	if first.err != nil || first.outputs["tag"] != "v0.1.0" {
		t.Fatalf("release: %v, outputs %v", first.err, first.outputs)
	}
	trained := map[string]string{"model": first.model}
	// The same commit and model again: the same image, nothing to record.
	if again := e.run("push", "push_main.json", mainSHA, "refs/heads/main", trained); again.err != nil || again.outputs["digest"] != first.outputs["digest"] {
		t.Fatalf("re-run: %v, digest %s, want %s", again.err, again.outputs["digest"], first.outputs["digest"])
	}
	// A later release becomes latest and candidate.
	next := e.run("workflow_dispatch", "workflow_dispatch.json", dispatch, "refs/heads/main", trained)
	if next.err != nil || next.outputs["tag"] != "v0.1.1" {
		t.Fatalf("second release: %v, outputs %v", next.err, next.outputs)
	}
	want := []string{
		"promote candidate ->0.1.0 by octocat: release v0.1.0",
		"promote candidate 0.1.0->0.1.1 by octocat: release v0.1.1",
	}
	if got := movesOf(e.history()); !reflect.DeepEqual(got, want) {
		t.Fatalf("history after the releases:\n got %q\nwant %q", got, want)
	}

	promoteInputs := map[string]string{"command": "promote", "version": "v0.1.0", "to": "stable", "reason": "canary looks good"}
	pr := e.run("workflow_dispatch", "workflow_dispatch.json", dispatch, "refs/heads/main", promoteInputs)
	if pr.err != nil || !strings.Contains(pr.stdout, "stable: (none) -> 0.1.0\n") {
		t.Fatalf("dispatch promote: %v\n%s", pr.err, pr.stdout)
	}
	if _, d := registrytest.Labels(t, repo+":stable"); d != first.outputs["digest"] {
		t.Errorf("stable is at %s, want v0.1.0's digest %s", d, first.outputs["digest"])
	}
	for _, r := range e.gh.Releases() {
		if r.Latest != (r.Tag == "v0.1.0") {
			t.Errorf("release %s latest %v; want only v0.1.0 latest", r.Tag, r.Latest)
		}
	}
	want = append(want, "promote stable ->0.1.0 by octocat: canary looks good")
	v := e.history()
	if got := movesOf(v); !reflect.DeepEqual(got, want) {
		t.Fatalf("history after the promotion:\n got %q\nwant %q", got, want)
	}
	for _, row := range v.Versions {
		if row.Version == "0.1.0" && strings.Join(row.Channels, ",") != "stable" {
			t.Errorf("history shows 0.1.0 on %v, want stable", row.Channels)
		}
	}

	// The same dispatch again: nothing moves, nothing is recorded.
	requests := len(e.gh.Requests())
	again := e.run("workflow_dispatch", "workflow_dispatch.json", dispatch, "refs/heads/main", promoteInputs)
	if again.err != nil || !strings.Contains(again.stdout, "(already there, nothing changed)") {
		t.Fatalf("second dispatch: %v\n%s", again.err, again.stdout)
	}
	for _, q := range e.gh.Requests()[requests:] {
		if q.Method != "GET" {
			t.Errorf("the no-op dispatch wrote: %s %s", q.Method, q.Path)
		}
	}
	if got := movesOf(e.history()); !reflect.DeepEqual(got, want) {
		t.Errorf("history after the second dispatch:\n got %q\nwant %q", got, want)
	}

	// promote without a version is a usage error naming the input.
	bad := e.run("workflow_dispatch", "workflow_dispatch.json", dispatch, "refs/heads/main", map[string]string{"command": "promote", "to": "stable"})
	if exitcode.For(bad.err) != exitcode.Usage || !strings.Contains(bad.err.Error(), "version input") {
		t.Errorf("promote without version: %v", bad.err)
	}
}
