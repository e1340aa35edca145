package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/dataset"
	"github.com/model-release/model-release/internal/deploycheck"
	"github.com/model-release/model-release/internal/evaluate"
	"github.com/model-release/model-release/internal/gate"
	"github.com/model-release/model-release/internal/github"
	"github.com/model-release/model-release/internal/metrics"
	"github.com/model-release/model-release/internal/model"
	"github.com/model-release/model-release/internal/pipeline"
	"github.com/model-release/model-release/internal/promote"
	"github.com/model-release/model-release/internal/registry"
	"github.com/model-release/model-release/internal/report"
	"github.com/model-release/model-release/internal/train"
	semver "github.com/model-release/model-release/internal/version"
)

// Adapters from the real packages to the pipeline's interfaces, built in
// one place. Without a GitHub token there is no release, comment or
// status client (run makes that a dry run); the registry client always
// exists, since a registry may take anonymous pushes.

// pipelineDeps builds the dependencies for one run.
func (a *app) pipelineDeps(cfg config.Config) (pipeline.Deps, error) {
	ga := &gateAdapter{policy: gate.PolicyFromConfig(&cfg)}
	d := pipeline.Deps{
		Log:       a.log,
		Data:      dataLoader{opts: a.dataOptions(cfg)},
		Trainer:   trainer{a: a},
		Evaluator: evaluator{},
		Gate:      ga,
		Baselines: ga,
		Versioner: versioner{},
		Checks:    []pipeline.Check{datasetCheck{client: &http.Client{Timeout: 15 * time.Second}, log: a.log}},
	}
	d.Renderer = reportRenderer{a: a, gate: ga}

	pusher := registry.NewPusher(a.registryOptions(cfg)...)
	img := &imageAdapter{p: pusher, cfg: cfg, env: a.env}
	channels := &channelMover{tagger: img}
	d.Pusher, d.Channels, d.Recorder = img, channels, releaseRecorder{}
	d.Commands = a.dispatchCommands()
	d.Verifier = &verifierAdapter{p: pusher, workDir: cfg.WorkDir}
	if cfg.Push {
		d.WriteChecks = append(d.WriteChecks, pipeline.CheckFunc{Label: "registry accepts a push", Fn: func(ctx context.Context, st *pipeline.State) error {
			repo, err := pipeline.ImageRepo(st)
			if err != nil {
				return err
			}
			return pusher.CheckPush(ctx, repo)
		}})
	}

	if cfg.GitHubToken != "" && cfg.Repository != "" {
		gh, err := github.New(cfg.GitHubToken, cfg.GitHubAPI, cfg.Repository, github.WithLogger(a.log))
		if err != nil {
			return d, fmt.Errorf("github client: %w", err)
		}
		ga.fetcher, ga.releases = ReleaseBaselineFetcher(gh), gh
		d.Tags = gh
		d.Versioner = versioner{tags: gh, prs: gh}
		d.Releaser = ghReleaser{gh: gh, cleanup: cfg.Cleanup}
		channels.promoter = func(ctx context.Context, image string) *promote.Promoter {
			return &promote.Promoter{
				GitHub: gh, Images: pusher, Store: promote.ReleaseStore{GitHub: gh},
				Image: image, Channels: cfg.ChannelList(), TagPrefix: cfg.TagPrefix,
				Actor: a.actor(ctx, gh), Log: a.log,
			}
		}
		d.Commenter = ghCommenter{gh: gh}
		d.Statuses = ghStatuser{gh: gh, runURL: a.runURL()}
		if cfg.Release {
			d.WriteChecks = append(d.WriteChecks, pipeline.CheckFunc{Label: "token can write releases", Fn: func(ctx context.Context, _ *pipeline.State) error {
				known, err := gh.CheckWrite(ctx)
				if err == nil && !known {
					a.log.Debug("GitHub does not report this token's permissions (the Actions token): the workflow needs permissions contents: write")
				}
				return err
			}})
		}
	}
	return d, nil
}

func (a *app) env(k string) string { v, _ := a.lookupEnv(k); return v }

// registryOptions log in the way push does: explicit credentials, else the
// GitHub token for ghcr.io, else the Docker config.
func (a *app) registryOptions(cfg config.Config) []registry.Option {
	opts := []registry.Option{registry.WithLogger(a.log)}
	switch {
	case cfg.RegistryUsername != "":
		opts = append(opts, registry.WithAuth(registry.Auth{Username: cfg.RegistryUsername, Password: cfg.RegistryPassword}))
	case cfg.GitHubToken != "":
		opts = append(opts, registry.WithGitHubToken(a.env("GITHUB_ACTOR"), cfg.GitHubToken))
	}
	return opts
}

// --- data ---

type dataLoader struct{ opts []dataset.Option }

func (l dataLoader) Load(ctx context.Context, source string) (pipeline.Dataset, error) {
	return dataset.Load(ctx, source, l.opts...)
}

func asDataset(d pipeline.Dataset) (*dataset.Dataset, error) {
	ds, ok := d.(*dataset.Dataset)
	if !ok || ds == nil {
		return nil, fmt.Errorf("data of type %T is not a loaded dataset", d)
	}
	return ds, nil
}

// datasetCheck fails in seconds on a dataset that is certainly not there:
// a missing local path, or a URL the server answers with 4xx. A network
// error is only a warning: a cached copy may still serve an offline run.
type datasetCheck struct {
	client *http.Client
	log    *slog.Logger
}

func (c datasetCheck) Name() string { return "dataset reachable" }
func (c datasetCheck) Check(ctx context.Context, st *pipeline.State) error {
	src := st.Config.Data
	switch {
	case src == "":
		return nil // the embedded sample
	case src == dataset.Download:
		src = dataset.CanonicalURL
	case !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://"):
		if _, err := os.Stat(src); err != nil {
			return fmt.Errorf("data %q: %w: give a folder, a .tar.gz, \"download\", a URL, or nothing for the embedded sample", src, err)
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, src, nil)
	if err != nil {
		return fmt.Errorf("data %q is not a valid URL: %w", src, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.log.Warn("cannot reach the dataset URL; a cached copy will be used if there is one", "url", src, "error", err)
		return nil
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusMethodNotAllowed {
		return fmt.Errorf("data URL %s answers %s: check the data option", src, resp.Status)
	}
	return nil
}

// --- train and evaluate ---

type trainer struct{ a *app }

func (t trainer) Train(ctx context.Context, data pipeline.Dataset, cfg config.Config, dir string, onEpoch func(metrics.Epoch)) error {
	ds, err := asDataset(data)
	if err != nil {
		return err
	}
	if want := filepath.Join(cfg.WorkDir, train.ModelDir); filepath.Clean(dir) != want {
		return fmt.Errorf("the trainer saves into %s, not %s", want, dir)
	}
	var progress io.Writer
	if t.a.env("GITHUB_ACTIONS") != "true" && isTerminal(t.a.stderr) {
		progress = t.a.stderr
	}
	res, err := train.Run(ctx, cfg, train.FromDataset(ds, cfg.ValidationSplit, cfg.Seed), train.Options{
		Log: t.a.log, Progress: progress, GitCommit: train.GitCommit(ctx, t.a.lookupEnv),
	})
	if err != nil {
		return err
	}
	for _, e := range res.History {
		onEpoch(e)
	}
	return nil
}

// evalChunk is how many images evaluate.Evaluate hands to Predict at once;
// the deployment check predicts in the same batches, so its probabilities
// can be compared bit for bit.
const evalChunk = 512

type evaluator struct{}

func (evaluator) Evaluate(ctx context.Context, dir string, data pipeline.Dataset) (*pipeline.Evaluation, error) {
	ds, err := asDataset(data)
	if err != nil {
		return nil, err
	}
	m, err := model.Load(dir)
	if err != nil {
		return nil, err
	}
	split := ds.Test
	if split == nil || split.Len() == 0 {
		split = ds.Train
	}
	md := m.Metadata()
	rec := &recordingPredictor{p: m}
	met, err := evaluate.Evaluate(ctx, rec, split.Images, split.Labels, md.Classes)
	if err != nil {
		return nil, err
	}
	met.Architecture, met.Split, met.DatasetDigest = md.Architecture, split.Name, ds.Digest()
	return &pipeline.Evaluation{Metrics: met, HeldOut: &pipeline.HeldOut{Images: split.Images, N: split.Len(), Probabilities: rec.probs}}, nil
}

// recordingPredictor keeps the probabilities of the evaluation run.
type recordingPredictor struct {
	p     evaluate.Predictor
	probs []float32
}

func (r *recordingPredictor) Predict(images []uint8, n int) ([]float32, error) {
	out, err := r.p.Predict(images, n)
	r.probs = append(r.probs, out...)
	return out, err
}

// --- gate and version ---

// gateAdapter resolves the baseline and applies the policy; it keeps the
// decision for the reports.
type gateAdapter struct {
	policy   gate.Policy
	fetcher  gate.ReleaseAssetFetcher // nil without a GitHub client
	releases releaseLister            // nil without a GitHub client
	baseline gate.Baseline
	decision *gate.Decision
}

func (g *gateAdapter) Baseline(ctx context.Context, spec, sha string) (*metrics.Metrics, string, error) {
	fetcher := g.fetcher
	if g.releases != nil && sha != "" {
		fetcher = priorReleases{f: g.fetcher, gh: g.releases, sha: sha}
	}
	if spec == "none" {
		g.baseline = gate.NoBaseline()
	} else {
		g.baseline = gate.ResolveBaseline(ctx, spec, fetcher)
	}
	return g.baseline.Metrics, g.baseline.Name, nil
}

func (g *gateAdapter) Check(m, _ *metrics.Metrics) (pipeline.Decision, error) {
	d, err := g.policy.Check(m, g.baseline)
	if err != nil {
		return pipeline.Decision{}, err
	}
	g.decision = &d
	out := pipeline.Decision{Passed: d.Passed}
	for _, r := range d.Failed() {
		reason := fmt.Sprintf("%s: %s is %s, limit %s", r.Name, r.Check, r.MeasuredText(), r.LimitText())
		if r.Note != "" {
			reason += " (" + r.Note + ")"
		}
		out.Reasons = append(out.Reasons, reason)
	}
	out.Reasons = append(out.Reasons, d.Warnings...)
	return out, nil
}

type releaseLister interface {
	GetRelease(ctx context.Context, tag string) (github.Release, error)
	ListReleases(ctx context.Context) ([]github.Release, error)
}

// priorReleases makes "latest" mean the latest release not made from
// this commit. On a re-run of a release, the latest release is the one
// being re-made: gating the model against itself would change its
// reports and model card, so the image digest, and the re-run would move
// the channel to a new digest instead of changing nothing.
type priorReleases struct {
	f   gate.ReleaseAssetFetcher
	gh  releaseLister
	sha string
}

func (p priorReleases) FetchReleaseAsset(ctx context.Context, tag, name string) ([]byte, error) {
	if tag != "" {
		return p.f.FetchReleaseAsset(ctx, tag, name)
	}
	latest, err := p.gh.GetRelease(ctx, "")
	if err != nil || latest.Target != p.sha {
		return p.f.FetchReleaseAsset(ctx, "", name) // the ordinary lookup, errors included
	}
	rels, err := p.gh.ListReleases(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing releases for the one before %s: %w", latest.Tag, err)
	}
	var prior *github.Release
	for i, r := range rels {
		if r.Draft || r.Prerelease || r.Target == p.sha || !hasAsset(r, name) {
			continue
		}
		if prior == nil || r.Created.After(prior.Created) {
			prior = &rels[i]
		}
	}
	if prior == nil {
		return nil, fmt.Errorf("no published release before %s, made from this commit: %w", latest.Tag, fs.ErrNotExist)
	}
	return p.f.FetchReleaseAsset(ctx, prior.Tag, name)
}

func hasAsset(r github.Release, name string) bool {
	for _, a := range r.Assets {
		if a.Name == name {
			return true
		}
	}
	return false
}

type tagLister interface {
	ListTags(ctx context.Context) (map[string]string, error)
}

type prReader interface {
	PullRequest(ctx context.Context, n int) (github.PullRequestInfo, error)
}

// versioner picks the next version from the repository's tags, the pull
// request's labels and the commit messages (conventional commits).
type versioner struct {
	tags tagLister
	prs  prReader
}

// mergedPR finds "(#7)" in a squash-merge commit message.
var mergedPR = regexp.MustCompile(`\(#(\d+)\)`)

func (v versioner) Next(ctx context.Context, in pipeline.VersionInput) (string, error) {
	var names []string
	if v.tags != nil {
		m, err := v.tags.ListTags(ctx)
		if err != nil {
			return "", fmt.Errorf("listing tags: %w", err)
		}
		var same []string
		for n, sha := range m {
			names = append(names, n)
			if in.SHA != "" && sha == in.SHA {
				same = append(same, n)
			}
		}
		// A re-run on a commit that already has a version keeps it, so
		// running twice makes one release, not two.
		if sorted := semver.Sorted(same, in.TagPrefix); len(sorted) > 0 {
			v, _ := semver.Parse(sorted[0], in.TagPrefix)
			return v.String(), nil
		}
	}
	labels, commits := in.Labels, in.Commits
	pr := in.PR
	if pr == 0 {
		for _, c := range commits {
			if m := mergedPR.FindStringSubmatch(c); m != nil {
				pr, _ = strconv.Atoi(m[1])
			}
		}
	}
	if pr > 0 && v.prs != nil {
		info, err := v.prs.PullRequest(ctx, pr)
		switch {
		case errors.Is(err, github.ErrNotFound):
			// "(#N)" in a message may name an issue: nothing to add.
		case err != nil:
			return "", fmt.Errorf("reading pull request #%d for its labels and commits: %w", pr, err)
		default:
			labels = append(append([]string(nil), labels...), info.Labels...)
			commits = append(append([]string(nil), commits...), info.Commits...)
		}
	}
	r, err := semver.Next(semver.Input{Tags: names, Prefix: in.TagPrefix, Bump: in.Bump, Labels: labels, Commits: commits})
	if err != nil {
		return "", err
	}
	if r.Version == nil {
		return "", errors.New("no version chosen")
	}
	return r.Version.String(), nil
}

// --- GitHub: release, comment, status ---

type ghReleaser struct {
	gh      *github.Client
	cleanup bool
}

func (r ghReleaser) Release(ctx context.Context, q pipeline.ReleaseRequest) (string, error) {
	var assets []github.Asset
	for _, p := range q.Assets {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("reading release asset: %w", err)
		}
		assets = append(assets, github.Asset{Name: filepath.Base(p), Data: b})
	}
	rel, err := r.gh.Publish(ctx, github.ReleaseSpec{
		Tag: q.Tag, SHA: q.SHA, Name: q.Name, Body: q.Body, Prerelease: q.Prerelease,
		MakeLatest: q.MakeLatest, Assets: assets, Cleanup: r.cleanup, Draft: q.Draft,
	})
	if err != nil {
		return "", err
	}
	return rel.URL, nil
}

type ghCommenter struct{ gh *github.Client }

func (c ghCommenter) Comment(ctx context.Context, pr int, body string) (string, error) {
	res, err := c.gh.Comment(ctx, github.CommentSpec{PR: pr, Body: body})
	if err != nil {
		return "", err
	}
	if res.Outcome.Skipped() {
		return res.URL, pipeline.Skip("%s: %s", res.Outcome, res.Reason)
	}
	return res.URL, nil
}

type ghStatuser struct {
	gh     *github.Client
	runURL string
}

func (s ghStatuser) Status(ctx context.Context, q pipeline.StatusRequest) error {
	state := q.State
	if state == "error" {
		state = "failure" // a check run concludes success or failure
	}
	url := s.runURL
	if url == "" {
		url = q.TargetURL
	}
	res, err := s.gh.PostStatus(ctx, github.StatusSpec{SHA: q.SHA, State: state, Title: q.Description, Summary: q.Summary, URL: url})
	if err != nil {
		return err
	}
	if res.Skipped {
		return pipeline.Skip("%s", res.Reason)
	}
	return nil
}

// --- registry: push, digest, channel, verify ---

type imageAdapter struct {
	p   *registry.Pusher
	cfg config.Config
	env func(string) string
}

func (i *imageAdapter) build(ctx context.Context, q pipeline.PushRequest) (*registry.Artifact, error) {
	l := q.Labels
	meta := registry.Metadata{
		Source: l[registry.LabelSource], Revision: l[registry.LabelRevision], Version: l[registry.LabelVersion],
		Title: l[registry.LabelTitle], Gate: l[registry.LabelGate], URL: l[registry.LabelSource],
		Description: "CIFAR-10 classifier served by model-release",
	}
	if v := i.env("SOURCE_DATE_EPOCH"); v != "" {
		t, err := parseCreated(v)
		if err != nil {
			return nil, fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
		}
		meta.Created = t
	}
	return registry.Build(ctx, registry.BuildOptions{ModelDir: q.ModelDir, Format: i.cfg.Format, Base: i.cfg.Base, Binary: i.cfg.Binary, Meta: meta})
}

func (i *imageAdapter) Push(ctx context.Context, q pipeline.PushRequest) (pipeline.PushResult, error) {
	art, err := i.build(ctx, q)
	if err != nil {
		return pipeline.PushResult{}, err
	}
	tags := make([]string, len(q.Tags))
	for k, t := range q.Tags {
		tags[k] = registry.VersionTag(t) // "+" is not allowed in tags
	}
	res, err := i.p.Push(ctx, art, q.Repo, tags)
	if err != nil {
		return pipeline.PushResult{}, err
	}
	return pipeline.PushResult{Repository: res.Repository, Tags: res.Tags, Digest: res.Digest}, nil
}

// Digest builds the image without pushing: the digest a dry run reports.
func (i *imageAdapter) Digest(ctx context.Context, q pipeline.PushRequest) (string, error) {
	art, err := i.build(ctx, q)
	if err != nil {
		return "", err
	}
	return art.Digest()
}

func (i *imageAdapter) tagChannel(ctx context.Context, repo, digest, channel string) error {
	return i.p.Tag(ctx, repo, digest, channel)
}

// channelMover moves the first channel after a release. A published
// release goes through promotion, as "model-release promote" would: the
// same checks of its release.json, the same tag move, and one entry in the
// channel history (none when a re-run finds the channel already there).
// Without a GitHub client or a published release there is no record to
// check nor history to write: only the tag moves.
type channelMover struct {
	tagger   *imageAdapter
	promoter func(ctx context.Context, image string) *promote.Promoter // nil without a GitHub client
}

func (c *channelMover) TagChannel(ctx context.Context, r pipeline.ChannelRequest) error {
	if !r.Published || c.promoter == nil {
		return c.tagger.tagChannel(ctx, r.Repo, r.Digest, r.Channel)
	}
	res, err := c.promoter(ctx, r.Repo).Promote(ctx, promote.Request{Version: r.Tag, Channel: r.Channel, Reason: r.Reason})
	if err != nil {
		return err
	}
	if res.Move.Digest != r.Digest {
		return fmt.Errorf("%s of %s names digest %s, not the pushed %s", promote.RecordAsset, r.Tag, res.Move.Digest, r.Digest)
	}
	return nil
}

// releaseRecorder writes release.json (promote.Record), which promote
// reads to allow a version onto a channel.
type releaseRecorder struct{}

func (releaseRecorder) Record(st *pipeline.State) ([]byte, error) {
	r := promote.Record{
		Version: st.Version, Tag: st.Tag, Commit: st.SHA(), Image: st.ImageRepo, Digest: st.Digest,
		DeployCheck: promote.Check{Ran: st.Verified, Passed: st.Verified, Detail: st.VerifyDetail},
	}
	if st.Metrics != nil {
		r.Accuracy = st.Metrics.Accuracy
	}
	if g := st.Gate; g != nil {
		r.Gate = promote.Check{Ran: true, Passed: g.Passed, Detail: strings.Join(g.Reasons, "; ")}
		if r.Gate.Detail == "" && st.Metrics != nil {
			r.Gate.Detail = fmt.Sprintf("accuracy %.2f%%", 100*st.Metrics.Accuracy)
		}
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// verifierAdapter pulls the pushed image by digest and runs the deployment
// check: same weights, and bit-identical predictions on the held-out images.
type verifierAdapter struct {
	p       *registry.Pusher
	workDir string
}

func (v *verifierAdapter) Verify(ctx context.Context, q pipeline.VerifyRequest) error {
	info, err := registry.ReadModel(q.ModelDir)
	if err != nil {
		return err
	}
	if q.HeldOut == nil || q.HeldOut.N == 0 {
		return v.p.Verify(ctx, q.Ref, q.Digest, info)
	}
	if err := os.MkdirAll(v.workDir, 0o755); err != nil { // absent when the model was not trained here
		return fmt.Errorf("creating work dir for the deployment check: %w", err)
	}
	c := deploycheck.New(v.p, func(dir string) (deploycheck.Predictor, error) { return model.Load(dir) },
		deploycheck.WithWorkDir(v.workDir), deploycheck.WithBatchSize(evalChunk), deploycheck.WithWeightsSHA256(info.WeightsSHA256))
	_, err = c.Check(ctx, q.Ref, q.HeldOut.Images, q.HeldOut.N, q.HeldOut.Probabilities)
	return err
}

// --- reports ---

// reportRenderer renders the report package's comment, summary, release
// notes and model card from the State, with the pipeline's notes (where
// it stopped, what was skipped) appended. Before there are metrics it
// falls back to the plain renderer.
type reportRenderer struct {
	a    *app
	gate *gateAdapter
}

func (r reportRenderer) Render(st *pipeline.State) (pipeline.Reports, error) {
	if st.Metrics == nil {
		return pipeline.PlainRenderer{}.Render(st)
	}
	s := &report.Summary{
		Model: pipeline.ModelName(st), Metrics: st.Metrics, Baseline: st.Baseline, BaselineName: st.BaselineName,
		Decision: r.gate.decision, History: st.History, Version: st.Tag,
		Image: st.ImageRepo, ImageDigest: st.Digest, ReleaseURL: st.ReleaseURL, RunURL: r.a.runURL(),
		Repository: st.Repository(), PR: st.PR(), HeadSHA: st.SHA(),
	}
	if st.Image != "" {
		s.Image = st.Image
	}
	if md, _, err := readModelMetadata(st.ModelDir); err == nil {
		fillFromMetadata(s, md)
		s.Model = pipeline.ModelName(st) // the marker must not change between runs
	}
	notes := pipeline.Notes(st)
	var out pipeline.Reports
	for _, k := range []struct {
		kind report.Kind
		dst  *string
		tail string
	}{
		{report.KindSummary, &out.Summary, notes},
		{report.KindComment, &out.Comment, notes},
		{report.KindRelease, &out.ReleaseNotes, ""},
		{report.KindCard, &out.ModelCard, ""},
	} {
		text, err := report.Render(k.kind, s)
		if err != nil {
			return pipeline.Reports{}, err
		}
		*k.dst = text + k.tail
	}
	return out, nil
}
