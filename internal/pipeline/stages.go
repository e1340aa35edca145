package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/metrics"
)

// Build assembles the pipeline for a selected mode. Which stages exist
// depends on the mode; what each does depends only on its dependencies.
func Build(sel Selection, d Deps) *Pipeline {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	publishes := sel.Mode == ModeRelease || sel.Mode == ModeTag || sel.Mode == ModePR
	pre := &preflightStage{checks: d.Checks, tags: d.Tags}
	if publishes {
		pre.writeChecks = d.WriteChecks
	}
	stages := []Piper{pre, &dataStage{loader: d.Data}}
	stages = append(stages, &pendingStatusStage{poster: d.Statuses}, &modelStage{trainer: d.Trainer})
	stages = append(stages, &evaluateStage{evaluator: d.Evaluator}, &gateStage{gate: d.Gate, baselines: d.Baselines})
	switch sel.Mode {
	case ModeRelease, ModeTag:
		// The release stays a draft until the pushed image has proved it
		// holds the evaluated model; only then is it published and the
		// channel tag moved.
		stages = append(stages,
			&versionStage{versioner: d.Versioner, tags: d.Tags},
			&releaseStage{releaser: d.Releaser, renderer: d.Renderer, recorder: d.Recorder},
			&pushStage{pusher: d.Pusher},
			&verifyStage{verifier: d.Verifier},
			&publishStage{releaser: d.Releaser, channels: d.Channels, recorder: d.Recorder},
		)
	case ModePR:
		stages = append(stages, &pushStage{pusher: d.Pusher}, &verifyStage{verifier: d.Verifier})
	}
	finally := []Piper{
		&reportStage{renderer: d.Renderer},
		&summaryStage{w: d.Summary},
		&commentStage{commenter: d.Commenter},
		&statusStage{poster: d.Statuses},
		&outputsStage{out: d.Outputs},
	}
	return &Pipeline{Stages: stages, Finally: finally, Log: log}
}

// --- preflight ---

type preflightStage struct {
	checks      []Check
	writeChecks []Check // only when the run will write
	tags        TagChecker
}

func (s *preflightStage) Name() string { return "preflight" }

// Run fails in seconds what would otherwise fail after training: missing
// permissions, an unreachable dataset, a pinned tag already used.
func (s *preflightStage) Run(ctx context.Context, st *State) error {
	var errs []error
	checks := s.checks
	// A fork's token is read-only by design and nothing is written for it
	// (the comment, status and push skip): checking for writes would fail
	// a run that is meant to only report.
	if st.Event == nil || !st.Event.IsFork() {
		checks = append(append([]Check(nil), checks...), s.writeChecks...)
	}
	for _, c := range checks {
		if err := c.Check(ctx, st); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name(), err))
		}
	}
	if st.Mode == ModeTag || (st.Mode == ModeRelease && st.Config.Version != "") {
		v, tag, err := pinnedVersion(st)
		if err != nil {
			errs = append(errs, err)
		} else if err := checkTagFree(ctx, s.tags, tag, st.SHA()); err != nil {
			errs = append(errs, err)
		} else {
			st.Version, st.Tag = v, tag
		}
	}
	if len(errs) == 0 && len(checks) == 0 && st.Tag == "" {
		return Skip("nothing to check")
	}
	return errors.Join(errs...)
}

// pinnedVersion is the version fixed by a pushed tag or the version option.
func pinnedVersion(st *State) (version, tag string, err error) {
	prefix := st.Config.TagPrefix
	if st.Mode == ModeTag && st.Event != nil {
		tag = st.Event.Tag()
		v, ok := strings.CutPrefix(tag, prefix)
		if !ok || !semverLike(v) {
			return "", "", fmt.Errorf("pushed tag %q is not tag-prefix %q followed by a semantic version such as 1.2.3", tag, prefix)
		}
		return v, tag, nil
	}
	v := strings.TrimPrefix(st.Config.Version, "v")
	return v, prefix + v, nil
}

func semverLike(v string) bool {
	core, _, _ := strings.Cut(v, "-")
	core, _, _ = strings.Cut(core, "+")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// checkTagFree allows a tag that does not exist or already points at this
// commit (a re-run), and refuses one taken by another commit.
func checkTagFree(ctx context.Context, tags TagChecker, tag, sha string) error {
	if tags == nil {
		return nil
	}
	at, exists, err := tags.TagCommit(ctx, tag)
	if err != nil {
		return fmt.Errorf("looking up tag %s: %w", tag, err)
	}
	if exists && sha != "" && at != sha {
		return fmt.Errorf("tag %s already points at commit %s, not %s: set a different version or bump", tag, short(at), short(sha))
	}
	return nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// --- data, model, evaluate, gate ---

type dataStage struct{ loader DataLoader }

func (s *dataStage) Name() string { return "load data" }
func (s *dataStage) Run(ctx context.Context, st *State) error {
	if s.loader == nil {
		return errors.New("no data loader in this build")
	}
	d, err := s.loader.Load(ctx, st.Config.Data)
	if err != nil {
		src := st.Config.Data
		if src == "" {
			src = "(embedded sample)"
		}
		return fmt.Errorf("loading data %s: %w", src, err)
	}
	st.Data = d
	return nil
}

// modelStage trains a model, or reuses the one named by the model option.
type modelStage struct {
	trainer Trainer
}

func (s *modelStage) Name() string { return "train" }
func (s *modelStage) Run(ctx context.Context, st *State) error {
	if p := st.Config.Model; p != "" {
		dir := p
		if fi, err := os.Stat(p); err != nil {
			return fmt.Errorf("model %q: %w", p, err)
		} else if !fi.IsDir() {
			dir = filepath.Dir(p)
		}
		if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
			return fmt.Errorf("model %q: no model.safetensors in %s: point model at a folder written by model-release train", p, dir)
		}
		st.ModelDir = dir
		return Skip("using the trained model in %s", dir)
	}
	if s.trainer == nil {
		return errors.New("no trainer in this build: pass model to use a trained model")
	}
	dir := filepath.Join(st.Config.WorkDir, "model")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating model folder: %w", err)
	}
	err := s.trainer.Train(ctx, st.Data, st.Config, dir, func(e metrics.Epoch) {
		st.History = append(st.History, e)
	})
	if err != nil {
		return fmt.Errorf("training %s: %w", st.Config.Architecture, err)
	}
	st.ModelDir, st.Trained = dir, true
	return nil
}

type evaluateStage struct{ evaluator Evaluator }

func (s *evaluateStage) Name() string { return "evaluate" }
func (s *evaluateStage) Run(ctx context.Context, st *State) error {
	if s.evaluator == nil {
		return errors.New("no evaluator in this build")
	}
	ev, err := s.evaluator.Evaluate(ctx, st.ModelDir, st.Data)
	if err != nil {
		return fmt.Errorf("evaluating %s: %w", st.ModelDir, err)
	}
	if ev == nil || ev.Metrics == nil {
		return fmt.Errorf("evaluating %s: the evaluator returned no metrics", st.ModelDir)
	}
	m := ev.Metrics
	if err := m.Validate(); err != nil {
		return fmt.Errorf("evaluating %s: %w", st.ModelDir, err)
	}
	st.Metrics, st.HeldOut = m, ev.HeldOut
	// metrics.json beside the weights is part of the model folder contract.
	if err := metrics.Write(filepath.Join(st.ModelDir, metrics.FileName), m); err != nil {
		return err
	}
	return nil
}

type gateStage struct {
	gate      Gater
	baselines BaselineFinder
}

func (s *gateStage) Name() string { return "gate" }
func (s *gateStage) Run(ctx context.Context, st *State) error {
	if s.gate == nil {
		return errors.New("no gate in this build")
	}
	if s.baselines != nil && st.Config.Baseline != "none" {
		b, name, err := s.baselines.Baseline(ctx, st.Config.Baseline, st.SHA())
		if err != nil {
			return fmt.Errorf("baseline %q: %w", st.Config.Baseline, err)
		}
		st.Baseline, st.BaselineName = b, name
	}
	d, err := s.gate.Check(st.Metrics, st.Baseline)
	if err != nil {
		return err
	}
	st.Gate = &d
	if !d.Passed {
		return &GateFailedError{Reasons: d.Reasons}
	}
	return nil
}

// --- version, release, push, verify ---

type versionStage struct {
	versioner Versioner
	tags      TagChecker
}

func (s *versionStage) Name() string { return "version" }
func (s *versionStage) Run(ctx context.Context, st *State) error {
	if st.Tag != "" {
		return Skip("version %s fixed before training", st.Tag)
	}
	if s.versioner == nil {
		return errors.New("no versioner in this build: set the version option")
	}
	in := VersionInput{Bump: st.Config.Bump, TagPrefix: st.Config.TagPrefix, SHA: st.SHA(), PR: st.PR()}
	if st.Event != nil {
		in.Labels, in.Commits = st.Event.Labels, st.Event.Commits
	}
	v, err := s.versioner.Next(ctx, in)
	if err != nil {
		return fmt.Errorf("choosing the next version (bump %s): %w", st.Config.Bump, err)
	}
	tag := st.Config.TagPrefix + strings.TrimPrefix(v, "v")
	if err := checkTagFree(ctx, s.tags, tag, st.SHA()); err != nil {
		return err
	}
	st.Version, st.Tag = strings.TrimPrefix(v, "v"), tag
	return nil
}

type releaseStage struct {
	releaser Releaser
	renderer Renderer
	recorder Recorder
}

func (s *releaseStage) Name() string { return "release" }
func (s *releaseStage) Run(ctx context.Context, st *State) error {
	if !st.Config.Release {
		return Skip("release is false")
	}
	if s.releaser == nil {
		return errors.New("no GitHub client to create the release: set github-token and repository, or release to false, or dry-run to true")
	}
	reps, err := render(s.renderer, st)
	if err != nil {
		return err
	}
	st.Reports = reps
	if reps.ModelCard != "" {
		if err := os.WriteFile(filepath.Join(st.ModelDir, "MODEL_CARD.md"), []byte(reps.ModelCard), 0o644); err != nil {
			return fmt.Errorf("writing model card: %w", err)
		}
	}
	var assets []string
	for _, f := range []string{"model.safetensors", "model.json", metrics.FileName, "MODEL_CARD.md"} {
		p := filepath.Join(st.ModelDir, f)
		if _, err := os.Stat(p); err == nil {
			assets = append(assets, p)
		} else if f != "MODEL_CARD.md" {
			return fmt.Errorf("release asset %s is missing: %w", p, err)
		}
	}
	if s.recorder != nil {
		// The draft's record says the deployment check has not run yet;
		// publishing rewrites it with the verdict.
		p, err := writeRecord(s.recorder, st)
		if err != nil {
			return err
		}
		assets = append(assets, p)
	}
	req := ReleaseRequest{
		Tag: st.Tag, Version: st.Version, SHA: st.SHA(),
		Name: st.Tag, Body: reps.ReleaseNotes, Assets: assets,
		Prerelease: strings.Contains(st.Version, "-"),
		MakeLatest: st.Config.MakeLatest && !strings.Contains(st.Version, "-"),
		Draft:      true,
	}
	url, err := s.releaser.Release(ctx, req)
	if err != nil {
		return fmt.Errorf("draft release %s: %w", st.Tag, err)
	}
	st.ReleaseURL, st.Assets, st.Draft = url, assets, &req
	return nil
}

// writeRecord writes the release record into the work folder (not the
// model folder: the image is built from that, and the record names the
// image's digest) and returns its path.
func writeRecord(r Recorder, st *State) (string, error) {
	b, err := r.Record(st)
	if err != nil {
		return "", fmt.Errorf("building %s: %w", RecordName, err)
	}
	dir := filepath.Join(st.Config.WorkDir, "release")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	p := filepath.Join(dir, RecordName)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", RecordName, err)
	}
	st.RecordPath = p
	return p, nil
}

// publishStage publishes the draft release, with its record updated to
// the deployment check's verdict, and moves the first channel (e.g.
// candidate) to the pushed digest, after verification passed.
type publishStage struct {
	releaser Releaser
	channels ChannelTagger
	recorder Recorder
}

func (s *publishStage) Name() string { return "publish" }
func (s *publishStage) Run(ctx context.Context, st *State) error {
	if st.Draft == nil && st.ImageRepo == "" {
		return Skip("no release and no image to publish")
	}
	if st.Draft != nil {
		req := *st.Draft
		req.Draft = false
		if s.recorder != nil {
			// Same path as in the draft's assets: the releaser uploads
			// the changed file in place of the draft's.
			if _, err := writeRecord(s.recorder, st); err != nil {
				return err
			}
		}
		url, err := s.releaser.Release(ctx, req)
		if err != nil {
			return fmt.Errorf("publishing release %s: %w", st.Tag, err)
		}
		st.ReleaseURL, st.Published = url, true
	}
	ch := firstChannel(st.Config.Channels)
	if st.ImageRepo == "" || ch == "" || s.channels == nil {
		return nil
	}
	req := ChannelRequest{
		Repo: st.ImageRepo, Digest: st.Digest, Channel: ch,
		Version: st.Version, Tag: st.Tag, Published: st.Published, Reason: "release " + st.Tag,
	}
	if err := s.channels.TagChannel(ctx, req); err != nil {
		return fmt.Errorf("moving channel %s to %s: %w", ch, st.Digest, err)
	}
	st.Channel = ch
	return nil
}

func firstChannel(channels string) string {
	first, _, _ := strings.Cut(channels, ",")
	return strings.TrimSpace(first)
}

type pushStage struct{ pusher Pusher }

func (s *pushStage) Name() string { return "push" }
func (s *pushStage) Run(ctx context.Context, st *State) error {
	if !st.Config.Push {
		return Skip("push is false")
	}
	if st.Event != nil && st.Event.IsFork() {
		return Skip("pull request from fork %s: its token cannot push", st.Event.HeadRepo)
	}
	if s.pusher == nil {
		return errors.New("no registry client to push the image: set push to false or dry-run to true")
	}
	repo, err := ImageRepo(st)
	if err != nil {
		return err
	}
	var tags []string
	switch st.Mode {
	case ModePR:
		tags = []string{fmt.Sprintf("pr-%d", st.PR())}
	default:
		// No "latest" here: moving tags people deploy from is the channels'
		// job, after the deployment check (see publishStage).
		tags = []string{st.Version}
	}
	// sha-<7 hex> finds the image of a commit; it never moves.
	if sha := st.SHA(); len(sha) >= 7 {
		tags = append(tags, "sha-"+strings.ToLower(sha[:7]))
	}
	req := PushRequest{ModelDir: st.ModelDir, Repo: repo, Tags: tags, Labels: imageLabels(st)}
	res, err := s.pusher.Push(ctx, req)
	if err != nil {
		return fmt.Errorf("pushing %s:%s: %w", repo, tags[0], err)
	}
	st.ImageRepo = repo
	if res.Repository != "" {
		st.ImageRepo = res.Repository
		st.Image = res.Repository + ":" + tags[0]
	}
	st.Digest = res.Digest
	return nil
}

// ImageRepo is the image option, or <registry>/<owner>/<name> in lower case.
func ImageRepo(st *State) (string, error) {
	if st.Config.Image != "" {
		return st.Config.Image, nil
	}
	repo := st.Repository()
	if repo == "" {
		return "", errors.New("no image repository: set the image option or the repository option (GITHUB_REPOSITORY in Actions)")
	}
	return strings.TrimSuffix(st.Config.Registry, "/") + "/" + strings.ToLower(repo), nil
}

// imageLabels are the OCI labels linking the image to its source and the
// gate; the image builder adds the model's own facts (weights digest,
// architecture, dataset digest, accuracy) from the model folder.
func imageLabels(st *State) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":    "model-release CIFAR-10 classifier",
		"org.opencontainers.image.revision": st.SHA(),
		"org.opencontainers.image.version":  st.Version,
		"io.github.model-release.gate":      "",
	}
	if st.Gate != nil && st.Gate.Passed {
		l["io.github.model-release.gate"] = "passed"
	}
	if st.Mode == ModePR {
		l["org.opencontainers.image.version"] = fmt.Sprintf("pr-%d", st.PR())
	}
	if r := st.Repository(); r != "" {
		l["org.opencontainers.image.source"] = "https://github.com/" + r
	}
	for k, v := range l {
		if v == "" {
			delete(l, k)
		}
	}
	return l
}

type verifyStage struct{ verifier Verifier }

func (s *verifyStage) Name() string { return "verify" }
func (s *verifyStage) Run(ctx context.Context, st *State) error {
	if st.Image == "" || st.Digest == "" {
		st.VerifyDetail = "no image was pushed"
		return Skip("%s", st.VerifyDetail)
	}
	if s.verifier == nil {
		st.VerifyDetail = "no verifier in this build"
		return Skip("%s", st.VerifyDetail)
	}
	ref := st.ImageRepo + "@" + st.Digest
	err := s.verifier.Verify(ctx, VerifyRequest{Ref: ref, Digest: st.Digest, ModelDir: st.ModelDir, HeldOut: st.HeldOut})
	if err != nil {
		st.VerifyDetail = err.Error()
		what := "do not use it"
		if st.Draft != nil {
			what = fmt.Sprintf("release %s stays a draft and no channel tag was moved", st.Tag)
		}
		return fmt.Errorf("the pushed image %s does not hold the evaluated model (%s): %w", ref, what, err)
	}
	st.Verified = true
	st.VerifyDetail = "pulled " + ref + ": same weights"
	if st.HeldOut != nil && st.HeldOut.N > 0 {
		st.VerifyDetail += fmt.Sprintf(", bit-identical probabilities on %d held-out images", st.HeldOut.N)
	}
	return nil
}

// --- finally ---

type reportStage struct{ renderer Renderer }

func (s *reportStage) Name() string { return "report" }
func (s *reportStage) Run(_ context.Context, st *State) error {
	reps, err := render(s.renderer, st)
	if err != nil {
		return err
	}
	st.Reports = reps
	return nil
}

func render(r Renderer, st *State) (Reports, error) {
	if r == nil {
		r = PlainRenderer{}
	}
	reps, err := r.Render(st)
	if err != nil {
		return Reports{}, fmt.Errorf("rendering reports: %w", err)
	}
	return reps, nil
}

type summaryStage struct{ w SummaryWriter }

func (s *summaryStage) Name() string { return "job summary" }
func (s *summaryStage) Run(_ context.Context, st *State) error {
	if s.w == nil {
		return Skip("not running in GitHub Actions")
	}
	return s.w.WriteSummary(st.Reports.Summary)
}

type commentStage struct{ commenter Commenter }

func (s *commentStage) Name() string { return "comment" }
func (s *commentStage) Run(ctx context.Context, st *State) error {
	switch {
	case st.PR() == 0:
		return Skip("not a pull request")
	case !st.Config.Comment:
		return Skip("comment is false")
	case st.Event.IsFork():
		return Skip("pull request from fork %s: its token cannot comment; see the job summary", st.Event.HeadRepo)
	case s.commenter == nil:
		return Skip("no GitHub client")
	}
	url, err := s.commenter.Comment(ctx, st.PR(), st.Reports.Comment)
	if err != nil {
		return fmt.Errorf("commenting on pull request #%d: %w", st.PR(), err)
	}
	st.CommentURL = url
	return nil
}

// StatusContext names the status check on commits.
const StatusContext = "model-release/gate"

type statusStage struct{ poster StatusPoster }

// statusSkip says why no status can be set on this run, or nil when one can;
// the pending and the final status share it so they never disagree.
func statusSkip(st *State, poster StatusPoster) error {
	switch {
	case !st.Config.StatusCheck:
		return Skip("status-check is false")
	case st.SHA() == "":
		return Skip("no commit to set a status on")
	case st.Event.IsFork():
		return Skip("pull request from fork %s: its token cannot set statuses", st.Event.HeadRepo)
	case poster == nil:
		return Skip("no GitHub client")
	}
	return nil
}

func (s *statusStage) Name() string { return "status" }
func (s *statusStage) Run(ctx context.Context, st *State) error {
	if err := statusSkip(st, s.poster); err != nil {
		return err
	}
	req := StatusRequest{SHA: st.SHA(), Context: StatusContext, TargetURL: st.ReleaseURL, Summary: st.Reports.Summary}
	var gf *GateFailedError
	switch {
	case errors.As(st.Failure, &gf):
		req.State, req.Description = "failure", truncate(gf.Error(), 140)
	case st.Failure != nil:
		req.State, req.Description = "error", truncate("failed at "+st.FailedStage, 140)
	case st.Gate == nil:
		return Skip("the gate did not run")
	default:
		req.State, req.Description = "success", "gate passed"
		if st.Metrics != nil {
			req.Description = fmt.Sprintf("gate passed: accuracy %.2f%%", 100*st.Metrics.Accuracy)
		}
	}
	if err := s.poster.Status(ctx, req); err != nil {
		return fmt.Errorf("setting status on %s: %w", short(st.SHA()), err)
	}
	st.Status = req.State
	return nil
}

// pendingStatusStage marks the commit's check as pending before training,
// so a reviewer sees at once that the model is being checked; the status
// stage in Finally later sets the verdict on the same check. Not being able
// to set it is worth a line in the log, never a failed run.
type pendingStatusStage struct{ poster StatusPoster }

func (s *pendingStatusStage) Name() string { return "pending status" }
func (s *pendingStatusStage) Run(ctx context.Context, st *State) error {
	if err := statusSkip(st, s.poster); err != nil {
		return err
	}
	req := StatusRequest{SHA: st.SHA(), Context: StatusContext, State: "pending", Description: "training and gating the model"}
	if err := s.poster.Status(ctx, req); err != nil {
		if IsSkip(err) {
			return err
		}
		return Skip("could not set the pending status on %s: %v", short(st.SHA()), err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// OutputNames are the step outputs, in the order they are set.
var OutputNames = []string{"accuracy", "baseline-accuracy", "passed", "version", "tag", "release-url", "image", "digest", "comment-url"}

type outputsStage struct{ out OutputSetter }

func (s *outputsStage) Name() string { return "outputs" }
func (s *outputsStage) Run(_ context.Context, st *State) error {
	if s.out == nil {
		return Skip("no outputs")
	}
	vals := Outputs(st)
	var errs []error
	for _, n := range OutputNames {
		if err := s.out.SetOutput(n, vals[n]); err != nil {
			errs = append(errs, fmt.Errorf("output %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// Outputs are the step output values of a run; empty when not reached.
func Outputs(st *State) map[string]string {
	o := map[string]string{
		"passed": fmt.Sprint(st.Passed()), "version": st.Version, "tag": st.Tag,
		"release-url": st.ReleaseURL, "image": st.Image, "digest": st.Digest, "comment-url": st.CommentURL,
	}
	if st.Metrics != nil {
		o["accuracy"] = fmt.Sprintf("%.4f", st.Metrics.Accuracy)
	}
	if st.Baseline != nil {
		o["baseline-accuracy"] = fmt.Sprintf("%.4f", st.Baseline.Accuracy)
	}
	return o
}

// Dispatch runs a command other than the pipeline (promote, rollback,
// prune) when this build has it.
func Dispatch(ctx context.Context, sel Selection, d Deps, cfg config.Config) error {
	c, ok := d.Commands[sel.Command]
	if !ok || c == nil {
		return fmt.Errorf("command %q is not available in this build: use command run or train", sel.Command)
	}
	return c.Run(ctx, cfg)
}
