package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/event"
	"github.com/model-release/model-release/internal/exitcode"
	"github.com/model-release/model-release/internal/metrics"
)

// --- fakes, each recording what it was asked ---

type fakeData struct{}

func (fakeData) Digest() string { return "sha256:data" }

type fakeLoader struct{ err error }

func (f fakeLoader) Load(context.Context, string) (Dataset, error) { return fakeData{}, f.err }

type fakeTrainer struct{ epochs int }

func (f *fakeTrainer) Train(_ context.Context, _ Dataset, cfg config.Config, dir string, onEpoch func(metrics.Epoch)) error {
	for i := 1; i <= cfg.Epochs; i++ {
		onEpoch(metrics.Epoch{Epoch: i, TrainLoss: 1.0 / float64(i)})
		f.epochs++
	}
	for _, n := range []string{"model.safetensors", "model.json"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

type fakeEval struct{ acc float64 }

func (f fakeEval) Evaluate(context.Context, string, Dataset) (*Evaluation, error) {
	m := &metrics.Metrics{Samples: 100, Accuracy: f.acc, Top3Accuracy: f.acc, Classes: []string{"a"}}
	return &Evaluation{Metrics: m, HeldOut: &HeldOut{Images: make([]uint8, 3072), N: 1, Probabilities: []float32{1}}}, nil
}

type floorGate struct{ min float64 }

func (g floorGate) Check(m, _ *metrics.Metrics) (Decision, error) {
	if m.Accuracy < g.min {
		return Decision{Passed: false, Reasons: []string{"accuracy below floor"}}, nil
	}
	return Decision{Passed: true}, nil
}

type fixedVersion string

func (v fixedVersion) Next(context.Context, VersionInput) (string, error) { return string(v), nil }

type fakeTags map[string]string

func (t fakeTags) TagCommit(_ context.Context, tag string) (string, bool, error) {
	sha, ok := t[tag]
	return sha, ok, nil
}

type recorder struct {
	calls     []string
	releases  []ReleaseRequest
	pushes    []PushRequest
	verifies  []VerifyRequest
	verifyErr error
	channels  []string
	comments  []string
	statuses  []StatusRequest
	outputs   map[string]string
	summary   string
}

func (r *recorder) Release(_ context.Context, q ReleaseRequest) (string, error) {
	if q.Draft {
		r.calls = append(r.calls, "draft")
	} else {
		r.calls = append(r.calls, "publish")
	}
	r.releases = append(r.releases, q)
	return "https://github.com/octo/cifar/releases/tag/" + q.Tag, nil
}
func (r *recorder) Push(_ context.Context, q PushRequest) (PushResult, error) {
	r.calls = append(r.calls, "push")
	r.pushes = append(r.pushes, q)
	return PushResult{Repository: q.Repo, Tags: q.Tags, Digest: "sha256:abc"}, nil
}
func (r *recorder) Digest(context.Context, PushRequest) (string, error) { return "sha256:planned", nil }
func (r *recorder) Verify(_ context.Context, q VerifyRequest) error {
	r.calls = append(r.calls, "verify")
	r.verifies = append(r.verifies, q)
	return r.verifyErr
}
func (r *recorder) TagChannel(_ context.Context, q ChannelRequest) error {
	r.calls = append(r.calls, "channel")
	r.channels = append(r.channels, fmt.Sprintf("%s@%s->%s (%s, published %t, %q)", q.Repo, q.Digest, q.Channel, q.Tag, q.Published, q.Reason))
	return nil
}
func (r *recorder) Comment(_ context.Context, pr int, body string) (string, error) {
	r.calls = append(r.calls, "comment")
	r.comments = append(r.comments, body)
	return "https://github.com/octo/cifar/pull/7#issuecomment-1", nil
}
func (r *recorder) Status(_ context.Context, q StatusRequest) error {
	r.calls = append(r.calls, "status")
	r.statuses = append(r.statuses, q)
	return nil
}
func (r *recorder) WriteSummary(md string) error { r.summary += md; return nil }
func (r *recorder) SetOutput(n, v string) error {
	if r.outputs == nil {
		r.outputs = map[string]string{}
	}
	r.outputs[n] = v
	return nil
}

func deps(rec *recorder, acc float64) Deps {
	return Deps{
		Data: fakeLoader{}, Trainer: &fakeTrainer{}, Evaluator: fakeEval{acc: acc}, Gate: floorGate{min: 0.5},
		Versioner: fixedVersion("1.3.0"), Tags: fakeTags{}, Releaser: rec, Pusher: rec, Verifier: rec, Channels: rec,
		Commenter: rec, Statuses: rec, Summary: rec, Outputs: rec,
	}
}

func loadEvent(t *testing.T, name, file string) *event.Event {
	t.Helper()
	ev, err := event.Load(name, filepath.Join("..", "..", "testdata", "events", file), "ffffffffffffffffffffffffffffffffffffffff", "refs/heads/main")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func newState(t *testing.T, ev *event.Event, sel Selection) *State {
	cfg := config.Default()
	cfg.WorkDir = t.TempDir()
	cfg.Epochs = 2
	return &State{Config: cfg, Event: ev, Mode: sel.Mode}
}

func run(t *testing.T, ev *event.Event, d Deps) (*State, error) {
	t.Helper()
	sel, err := Select(config.Default(), ev)
	if err != nil {
		t.Fatal(err)
	}
	st := newState(t, ev, sel)
	return st, Build(sel, d).Run(context.Background(), st)
}

func TestSelectModePerEvent(t *testing.T) {
	cases := []struct {
		name, file string
		want       Mode
	}{
		{event.PullRequest, "pull_request_opened.json", ModePR},
		{event.PullRequest, "pull_request_synchronize_fork.json", ModePR},
		{event.Push, "push_main.json", ModeRelease},
		{event.Push, "push_tag.json", ModeTag},
		{event.WorkflowDispatch, "workflow_dispatch.json", ModeRelease},
	}
	for _, c := range cases {
		sel, err := Select(config.Default(), loadEvent(t, c.name, c.file))
		if err != nil || sel.Mode != c.want {
			t.Errorf("%s: got %+v, %v; want mode %s", c.file, sel, err, c.want)
		}
	}
	feature := &event.Event{Name: event.Push, Ref: "refs/heads/feature", DefaultBranch: "main"}
	if sel, _ := Select(config.Default(), feature); sel.Mode != ModeCheck {
		t.Errorf("push to a feature branch: mode %s, want check", sel.Mode)
	}
	cfg := config.Default()
	cfg.Command = "promote"
	if sel, _ := Select(cfg, loadEvent(t, event.Push, "push_main.json")); sel.Command != "promote" {
		t.Errorf("command promote overrides the event: got %+v", sel)
	}
	cfg.Command = "train"
	if sel, _ := Select(cfg, loadEvent(t, event.Push, "push_main.json")); sel.Mode != ModeCheck {
		t.Errorf("command train on a push to main: got %+v, want check", sel)
	}
}

func TestStageOrderPerMode(t *testing.T) {
	base := []string{"preflight", "load data", "pending status", "train", "evaluate", "gate"}
	fin := []string{"report", "job summary", "comment", "status", "outputs"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	want := map[Mode][]string{
		ModeRelease: cat(base, []string{"version", "release", "push", "verify", "publish"}, fin),
		ModeTag:     cat(base, []string{"version", "release", "push", "verify", "publish"}, fin),
		ModePR:      cat(base, []string{"push", "verify"}, fin),
		ModeCheck:   cat(base, fin),
	}
	for m, w := range want {
		if got := Build(Selection{Mode: m}, Deps{}).Names(); !reflect.DeepEqual(got, w) {
			t.Errorf("mode %s stages:\n got %v\nwant %v", m, got, w)
		}
	}
}

func TestReleaseOnPushToMain(t *testing.T) {
	rec := &recorder{}
	st, err := run(t, loadEvent(t, event.Push, "push_main.json"), deps(rec, 0.8))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"status", "draft", "push", "verify", "publish", "channel", "status"}; !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("calls %v, want %v", rec.calls, want)
	}
	r := rec.releases[0]
	if r.Tag != "v1.3.0" || r.SHA != "3333333333333333333333333333333333333333" || len(r.Assets) != 3 || !r.Draft {
		t.Errorf("release request %+v", r)
	}
	if pub := rec.releases[1]; pub.Draft || pub.Tag != "v1.3.0" || !pub.MakeLatest {
		t.Errorf("publish request %+v", pub)
	}
	v := rec.verifies[0]
	if v.Ref != "ghcr.io/octo/cifar@sha256:abc" || v.HeldOut == nil || v.HeldOut.N != 1 {
		t.Errorf("verify request %+v", v)
	}
	if !reflect.DeepEqual(rec.channels, []string{`ghcr.io/octo/cifar@sha256:abc->candidate (v1.3.0, published true, "release v1.3.0")`}) || st.Channel != "candidate" {
		t.Errorf("channels %v", rec.channels)
	}
	p := rec.pushes[0]
	if p.Repo != "ghcr.io/octo/cifar" || !reflect.DeepEqual(p.Tags, []string{"1.3.0", "sha-" + st.SHA()[:7]}) || p.Labels["org.opencontainers.image.version"] != "1.3.0" {
		t.Errorf("push request %+v", p)
	}
	if rec.outputs["passed"] != "true" || rec.outputs["tag"] != "v1.3.0" || rec.outputs["accuracy"] != "0.8000" || rec.outputs["digest"] != "sha256:abc" {
		t.Errorf("outputs %v", rec.outputs)
	}
	if len(st.History) != 2 || !st.Verified {
		t.Errorf("history %d epochs, verified %v", len(st.History), st.Verified)
	}
	if _, err := os.Stat(filepath.Join(st.ModelDir, metrics.FileName)); err != nil {
		t.Errorf("metrics.json not written beside the model: %v", err)
	}
	if rec.statuses[0].State != "pending" || rec.statuses[0].Context != StatusContext {
		t.Errorf("first status %+v, want pending on %s before training", rec.statuses[0], StatusContext)
	}
	if rec.statuses[len(rec.statuses)-1].State != "success" {
		t.Errorf("status %+v", rec.statuses[len(rec.statuses)-1])
	}
}

func TestFailedGateSkipsPublishingButReports(t *testing.T) {
	rec := &recorder{}
	st, err := run(t, loadEvent(t, event.Push, "push_main.json"), deps(rec, 0.2))
	if exitcode.For(err) != exitcode.GateFailed {
		t.Fatalf("exit code %d (%v), want %d", exitcode.For(err), err, exitcode.GateFailed)
	}
	if want := []string{"status", "status"}; !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("calls %v, want only %v", rec.calls, want)
	}
	if rec.statuses[len(rec.statuses)-1].State != "failure" || !strings.Contains(rec.statuses[len(rec.statuses)-1].Description, "accuracy below floor") {
		t.Errorf("status %+v", rec.statuses[len(rec.statuses)-1])
	}
	if rec.outputs["passed"] != "false" || rec.outputs["tag"] != "" {
		t.Errorf("outputs %v", rec.outputs)
	}
	if !strings.Contains(rec.summary, "gate failed") || !strings.Contains(rec.summary, "accuracy below floor") {
		t.Errorf("summary does not report the failed gate:\n%s", rec.summary)
	}
	if st.FailedStage != "gate" {
		t.Errorf("failed stage %q", st.FailedStage)
	}
}

func TestFinallyRunsAfterError(t *testing.T) {
	rec := &recorder{}
	d := deps(rec, 0.8)
	d.Data = fakeLoader{err: errors.New("unreachable")}
	_, err := run(t, loadEvent(t, event.PullRequest, "pull_request_opened.json"), d)
	if err == nil || !strings.Contains(err.Error(), "load data") || exitcode.For(err) != exitcode.Error {
		t.Fatalf("err %v", err)
	}
	if want := []string{"comment", "status"}; !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("calls %v, want %v", rec.calls, want)
	}
	if rec.statuses[0].State != "error" || !strings.HasPrefix(rec.comments[0], "<!-- model-release:comment model=convnet sha=1111111111111111111111111111111111111111 -->\n") {
		t.Errorf("status %+v, comment %q", rec.statuses[0], rec.comments[0])
	}
}

func TestPullRequestFlows(t *testing.T) {
	rec := &recorder{}
	st, err := run(t, loadEvent(t, event.PullRequest, "pull_request_opened.json"), deps(rec, 0.8))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"status", "push", "verify", "comment", "status"}; !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("calls %v, want %v", rec.calls, want)
	}
	if rec.pushes[0].Tags[0] != "pr-7" || rec.statuses[0].SHA != "1111111111111111111111111111111111111111" || st.CommentURL == "" {
		t.Errorf("push %+v status %+v", rec.pushes[0], rec.statuses[0])
	}

	// From a fork the token is read-only: nothing is written, all is said
	// in the summary.
	rec = &recorder{}
	st, err = run(t, loadEvent(t, event.PullRequest, "pull_request_synchronize_fork.json"), deps(rec, 0.8))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.calls) != 0 {
		t.Errorf("fork PR wrote: %v", rec.calls)
	}
	if !strings.Contains(rec.summary, "stranger/cifar") || len(st.Skipped) < 3 {
		t.Errorf("summary does not explain the skipped stages: %v\n%s", st.Skipped, rec.summary)
	}
}

func TestTagTakenByAnotherCommitFailsPreflight(t *testing.T) {
	rec := &recorder{}
	d := deps(rec, 0.8)
	d.Tags = fakeTags{"v2.0.0": "9999999999999999999999999999999999999999"}
	tr := &fakeTrainer{}
	d.Trainer = tr
	_, err := run(t, loadEvent(t, event.Push, "push_tag.json"), d)
	if err == nil || !strings.Contains(err.Error(), "preflight") || !strings.Contains(err.Error(), "v2.0.0 already points at commit 999999999999") {
		t.Fatalf("err %v", err)
	}
	if tr.epochs != 0 {
		t.Errorf("trained %d epochs before failing preflight", tr.epochs)
	}

	// The same tag on the same commit is a re-run and goes through.
	rec = &recorder{}
	d = deps(rec, 0.8)
	d.Tags = fakeTags{"v2.0.0": "4444444444444444444444444444444444444444"}
	st, err := run(t, loadEvent(t, event.Push, "push_tag.json"), d)
	if err != nil || st.Version != "2.0.0" || rec.releases[0].Tag != "v2.0.0" {
		t.Fatalf("re-run of tag: %v, %+v", err, st)
	}
}

func TestDryRunPrintsThePlanAndWritesNothing(t *testing.T) {
	rec := &recorder{}
	var plan bytes.Buffer
	d := deps(rec, 0.8).Dry(&plan)
	st, err := run(t, loadEvent(t, event.Push, "push_main.json"), d)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.calls) != 0 {
		t.Errorf("dry run called real implementations: %v", rec.calls)
	}
	for _, want := range []string{
		"Would create draft release v1.3.0 (tag v1.3.0 at 3333333333333333333333333333333333333333",
		"Would publish release v1.3.0 (latest true) once the pushed image is verified",
		"Would point channel tag ghcr.io/octo/cifar:candidate at the pushed digest and record the move (release v1.3.0)",
		"model.safetensors", "metrics.json", "Release notes:",
		"Would push image ghcr.io/octo/cifar with tags 1.3.0, sha-3333333, digest sha256:planned",
		"org.opencontainers.image.revision=3333333333333333333333333333333333333333",
		"Would set status success on 333333333333",
	} {
		if !strings.Contains(plan.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, plan.String())
		}
	}
	if st.Digest != "" || st.ReleaseURL != "" {
		t.Errorf("dry run reports a digest %q / release %q as if published", st.Digest, st.ReleaseURL)
	}

	plan.Reset()
	rec = &recorder{}
	if _, err := run(t, loadEvent(t, event.PullRequest, "pull_request_opened.json"), deps(rec, 0.8).Dry(&plan)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), "Would create or update the model-release comment on pull request #7") {
		t.Errorf("plan lacks the comment:\n%s", plan.String())
	}
}

func TestReuseModelSkipsTraining(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("x"), 0o644)
	rec := &recorder{}
	d := deps(rec, 0.8)
	tr := &fakeTrainer{}
	d.Trainer = tr
	sel := Selection{Mode: ModeCheck}
	st := newState(t, &event.Event{Name: event.Local}, sel)
	st.Config.Model = filepath.Join(dir, "model.safetensors")
	if err := Build(sel, d).Run(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if tr.epochs != 0 || st.ModelDir != dir || !skipped(st, "train") {
		t.Errorf("epochs %d, model dir %q, skipped %v", tr.epochs, st.ModelDir, st.Skipped)
	}
}

func skipped(st *State, stage string) bool {
	for _, s := range st.Skipped {
		if s.Stage == stage {
			return true
		}
	}
	return false
}

func TestDispatchUnavailableCommand(t *testing.T) {
	err := Dispatch(context.Background(), Selection{Command: "rollback"}, Deps{}, config.Default())
	if err == nil || !strings.Contains(err.Error(), `command "rollback" is not available in this build`) {
		t.Errorf("err %v", err)
	}
}

func TestFailedDeploymentCheckKeepsTheDraft(t *testing.T) {
	rec := &recorder{verifyErr: errors.New("predicts differently on 3 of 100 images")}
	st, err := run(t, loadEvent(t, event.Push, "push_main.json"), deps(rec, 0.8))
	if err == nil || exitcode.For(err) != exitcode.Error {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"verify:", "release v1.3.0 stays a draft and no channel tag was moved", "predicts differently"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if want := []string{"status", "draft", "push", "verify", "status"}; !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("calls %v, want %v (no publish, no channel)", rec.calls, want)
	}
	if st.Published || st.Channel != "" || rec.statuses[len(rec.statuses)-1].State != "error" {
		t.Errorf("published %v, channel %q, status %+v", st.Published, st.Channel, rec.statuses[len(rec.statuses)-1])
	}
}

type failingCheck struct{ calls *int }

func (c failingCheck) Name() string { return "token can write" }
func (c failingCheck) Check(context.Context, *State) error {
	*c.calls++
	return errors.New("read-only token")
}

func TestWriteChecksFailBeforeTrainingButNotForForks(t *testing.T) {
	calls := 0
	rec := &recorder{}
	d := deps(rec, 0.8)
	tr := &fakeTrainer{}
	d.Trainer = tr
	d.WriteChecks = []Check{failingCheck{&calls}}
	_, err := run(t, loadEvent(t, event.PullRequest, "pull_request_opened.json"), d)
	if err == nil || !strings.Contains(err.Error(), "preflight: token can write: read-only token") || tr.epochs != 0 {
		t.Fatalf("err %v, trained %d epochs", err, tr.epochs)
	}
	// A fork's run writes nothing, so its read-only token is fine.
	if _, err := run(t, loadEvent(t, event.PullRequest, "pull_request_synchronize_fork.json"), d); err != nil {
		t.Fatalf("fork PR failed the write checks: %v", err)
	}
	// A dry run drops the write checks.
	if _, err := run(t, loadEvent(t, event.PullRequest, "pull_request_opened.json"), d.Dry(&bytes.Buffer{})); err != nil {
		t.Fatalf("dry run failed the write checks: %v", err)
	}
	if calls != 1 {
		t.Errorf("write check ran %d times, want once", calls)
	}
}

func TestVersionGetsLabelsAndCommits(t *testing.T) {
	rec := &recorder{}
	d := deps(rec, 0.8)
	v := &seenVersion{}
	d.Versioner = v
	if _, err := run(t, loadEvent(t, event.Push, "push_main.json"), d); err != nil {
		t.Fatal(err)
	}
	if len(v.in.Commits) != 1 || v.in.Commits[0] != "feat: wider convnet (#7)" || v.in.Bump != "auto" {
		t.Errorf("version input %+v", v.in)
	}
}

type seenVersion struct{ in VersionInput }

func (s *seenVersion) Next(_ context.Context, in VersionInput) (string, error) {
	s.in = in
	return "1.3.0", nil
}

// jsonRecorder encodes the facts a release record needs.
type jsonRecorder struct{}

type testRecord struct {
	Tag, Digest       string
	GateRan, Verified bool
	Detail            string
}

func (j jsonRecorder) Record(st *State) ([]byte, error) {
	return json.Marshal(testRecord{Tag: st.Tag, Digest: st.Digest, GateRan: st.Gate != nil, Verified: st.Verified, Detail: st.VerifyDetail})
}

// recordingReleaser reads the record each release call attached.
type recordingReleaser struct {
	*recorder
	records []testRecord
}

func (r *recordingReleaser) Release(ctx context.Context, q ReleaseRequest) (string, error) {
	for _, a := range q.Assets {
		if filepath.Base(a) != RecordName {
			continue
		}
		b, err := os.ReadFile(a)
		if err != nil {
			return "", err
		}
		var tr testRecord
		if err := json.Unmarshal(b, &tr); err != nil {
			return "", err
		}
		r.records = append(r.records, tr)
	}
	return r.recorder.Release(ctx, q)
}

func TestReleaseRecordIsRewrittenWithTheDeploymentCheck(t *testing.T) {
	rec := &recorder{}
	rr := &recordingReleaser{recorder: rec}
	d := deps(rec, 0.8)
	d.Releaser, d.Recorder = rr, jsonRecorder{}
	st, err := run(t, loadEvent(t, event.Push, "push_main.json"), d)
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.records) != 2 {
		t.Fatalf("%d release calls carried %s, want the draft and the publication", len(rr.records), RecordName)
	}
	draft, pub := rr.records[0], rr.records[1]
	if draft.Tag != "v1.3.0" || !draft.GateRan || draft.Verified || draft.Digest != "" {
		t.Errorf("draft record %+v: want the gate, no digest nor deployment check yet", draft)
	}
	if pub.Digest != "sha256:abc" || !pub.Verified || !strings.Contains(pub.Detail, "bit-identical probabilities on 1 held-out images") {
		t.Errorf("published record %+v: want the digest and the passed deployment check", pub)
	}
	if filepath.Dir(st.RecordPath) == st.ModelDir {
		t.Errorf("record %s written into the model folder, which the image is built from", st.RecordPath)
	}

	// A failed deployment check publishes nothing: the draft keeps the
	// record that says the check did not pass.
	rec = &recorder{verifyErr: errors.New("predicts differently")}
	rr = &recordingReleaser{recorder: rec}
	d = deps(rec, 0.8)
	d.Releaser, d.Recorder = rr, jsonRecorder{}
	if _, err := run(t, loadEvent(t, event.Push, "push_main.json"), d); err == nil {
		t.Fatal("a failed deployment check did not fail the run")
	}
	if len(rr.records) != 1 || rr.records[0].Verified {
		t.Errorf("records %+v, want only the draft's, unverified", rr.records)
	}
}

func TestDispatchRunsTheBuiltInCommand(t *testing.T) {
	var got config.Config
	d := Deps{Commands: map[string]Command{"promote": CommandFunc(func(_ context.Context, cfg config.Config) error {
		got = cfg
		return nil
	})}}
	cfg := config.Default()
	cfg.Command, cfg.To, cfg.Version = "promote", "stable", "1.3.0"
	if err := Dispatch(context.Background(), Selection{Command: "promote"}, d, cfg); err != nil {
		t.Fatal(err)
	}
	if got.To != "stable" || got.Version != "1.3.0" {
		t.Errorf("command got config %+v", got)
	}
}
