package pipeline

import (
	"context"
	"io"
	"log/slog"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/metrics"
)

// The interfaces below are what the stages need from the rest of
// model-release, declared here so the pipeline does not depend on how the
// trainer, GitHub client or registry are built. Adapters to the real
// packages live in cmd/model-release.

// Dataset is loaded data; the trainer and evaluator know its real type.
type Dataset interface {
	Digest() string
}

// DataLoader reads the dataset named by the data option.
type DataLoader interface {
	Load(ctx context.Context, source string) (Dataset, error)
}

// Trainer trains a model into dir (model.safetensors + model.json),
// calling onEpoch with every epoch's history line. It logs its own
// progress (one line per epoch).
type Trainer interface {
	Train(ctx context.Context, data Dataset, cfg config.Config, dir string, onEpoch func(metrics.Epoch)) error
}

// Evaluator measures the model in dir on the data's test split.
type Evaluator interface {
	Evaluate(ctx context.Context, dir string, data Dataset) (*Evaluation, error)
}

// Evaluation is what evaluating a model yields: its metrics, and the
// held-out images with the probabilities the model gave them, which the
// deployment check expects the pushed image to reproduce exactly.
type Evaluation struct {
	Metrics *metrics.Metrics
	HeldOut *HeldOut // nil when the evaluator does not keep them
}

// HeldOut is the evaluation sample: N raw 3x32x32 images and N rows of
// class probabilities.
type HeldOut struct {
	Images        []uint8
	N             int
	Probabilities []float32
}

// BaselineFinder resolves the baseline option ("latest", a tag, a file,
// "none") to metrics; nil metrics and no error mean there is none. sha is
// the run's commit: "latest" skips a release made from it, so that a
// re-run is not gated against itself (and reports, card and image stay
// those of the first run).
type BaselineFinder interface {
	Baseline(ctx context.Context, spec, sha string) (m *metrics.Metrics, name string, err error)
}

// Gater applies the gate policy.
type Gater interface {
	Check(current, baseline *metrics.Metrics) (Decision, error)
}

// VersionInput is what decides the next version.
type VersionInput struct {
	Bump      string   // major, minor, patch or auto
	TagPrefix string   // e.g. "v"
	Labels    []string // pull request labels, for auto
	Commits   []string // commit messages, for auto (conventional commits)
	PR        int      // the pull request, when the event names one
	SHA       string
}

// Versioner picks the next version (without prefix).
type Versioner interface {
	Next(ctx context.Context, in VersionInput) (string, error)
}

// TagChecker tells which commit a tag points at.
type TagChecker interface {
	TagCommit(ctx context.Context, tag string) (sha string, exists bool, err error)
}

// ReleaseRequest describes one GitHub Release.
type ReleaseRequest struct {
	Tag, Version, SHA string
	Name, Body        string
	Assets            []string // file paths
	Prerelease        bool
	MakeLatest        bool
	// Draft uploads the assets and leaves the release a draft; the same
	// request without Draft publishes it (after the image is verified).
	Draft bool
}

// Releaser creates (or completes, when re-run) a GitHub Release.
type Releaser interface {
	Release(ctx context.Context, r ReleaseRequest) (url string, err error)
}

// PushRequest describes the model image to push.
type PushRequest struct {
	ModelDir string
	Repo     string   // e.g. ghcr.io/octo/cifar
	Tags     []string // e.g. 1.3.0, latest or pr-7
	Labels   map[string]string
}

// PushResult says where the image went.
type PushResult struct {
	Repository string   // normalized, e.g. ghcr.io/octo/cifar
	Tags       []string // tags pointing at Digest
	Digest     string   // sha256:...
}

// Pusher builds the image from a model folder and pushes it.
type Pusher interface {
	Push(ctx context.Context, r PushRequest) (PushResult, error)
}

// Digester builds the image locally to tell the digest a push would have.
type Digester interface {
	Digest(ctx context.Context, r PushRequest) (string, error)
}

// VerifyRequest names the pushed image and what it must reproduce.
type VerifyRequest struct {
	Ref      string // repository@digest: the exact image pushed
	Digest   string
	ModelDir string   // the evaluated model
	HeldOut  *HeldOut // nil: only the weights are compared
}

// Verifier pulls the pushed image back by digest and checks it holds the
// evaluated model: same weights, same predictions on the held-out images.
type Verifier interface {
	Verify(ctx context.Context, r VerifyRequest) error
}

// ChannelRequest asks to point a channel tag (e.g. candidate) of the
// image repository at a release's pushed digest.
type ChannelRequest struct {
	Repo, Digest, Channel string
	Version, Tag          string // the release, e.g. 1.3.0 and v1.3.0
	// Published says the release Tag is published with its record
	// (release.json), so the move can go through promotion and be
	// recorded in the channel history; otherwise only the tag moves.
	Published bool
	Reason    string // recorded with the move, e.g. "release v1.3.0"
}

// ChannelTagger points a channel at a release's pushed digest.
type ChannelTagger interface {
	TagChannel(ctx context.Context, r ChannelRequest) error
}

// RecordName is the release asset that tells promotion what a release's
// checks concluded (promote.RecordAsset; the pipeline does not import
// promote, which reads it).
const RecordName = "release.json"

// Recorder encodes the release record (RecordName) from the State: the
// version, the pushed digest, and whether the gate and the deployment
// check passed. The pipeline writes it twice: with the draft, before the
// deployment check ran, and again with its verdict before publishing.
type Recorder interface {
	Record(st *State) ([]byte, error)
}

// Renderer writes the reports of a run.
type Renderer interface {
	Render(st *State) (Reports, error)
}

// Commenter creates or updates the one sticky comment on a pull request.
type Commenter interface {
	Comment(ctx context.Context, pr int, body string) (url string, err error)
}

// StatusRequest is a commit status / check.
type StatusRequest struct {
	SHA, State, Context, Description, TargetURL string
	Summary                                     string // markdown for a check run
}

// StatusPoster sets the status of a commit.
type StatusPoster interface {
	Status(ctx context.Context, r StatusRequest) error
}

// SummaryWriter appends markdown to the job summary.
type SummaryWriter interface {
	WriteSummary(markdown string) error
}

// OutputSetter sets one step output.
type OutputSetter interface {
	SetOutput(name, value string) error
}

// Check is one preflight check.
type Check interface {
	Name() string
	Check(ctx context.Context, st *State) error
}

// CheckFunc adapts a function to a Check.
type CheckFunc struct {
	Label string
	Fn    func(ctx context.Context, st *State) error
}

func (c CheckFunc) Name() string                               { return c.Label }
func (c CheckFunc) Check(ctx context.Context, st *State) error { return c.Fn(ctx, st) }

// Command is a workflow_dispatch command other than run (promote,
// rollback, prune).
type Command interface {
	Run(ctx context.Context, cfg config.Config) error
}

// CommandFunc adapts a function to a Command.
type CommandFunc func(ctx context.Context, cfg config.Config) error

func (f CommandFunc) Run(ctx context.Context, cfg config.Config) error { return f(ctx, cfg) }

// Deps are the implementations a pipeline is built from. Nil optional
// dependencies make their stage skip with a reason.
type Deps struct {
	Log *slog.Logger

	// Checks run in preflight always; WriteChecks only when the run will
	// write (not in a dry run).
	Checks      []Check
	WriteChecks []Check

	Data      DataLoader
	Trainer   Trainer
	Evaluator Evaluator
	Baselines BaselineFinder // optional
	Gate      Gater
	Versioner Versioner
	Tags      TagChecker // optional
	Releaser  Releaser
	Recorder  Recorder // optional: the release carries no release.json without it
	Pusher    Pusher
	Verifier  Verifier      // optional
	Channels  ChannelTagger // optional: moves the first channel tag on release
	Renderer  Renderer      // optional: a plain built-in report is used
	Commenter Commenter
	Statuses  StatusPoster
	Summary   SummaryWriter // optional: outside Actions
	Outputs   OutputSetter  // optional

	Commands map[string]Command // promote, rollback, prune when built in
}

// Dry returns deps whose writing implementations print what they would do
// to w instead. Reads (data, training, baselines, tags) stay real, so the
// plan shows the real version, digest and reports.
func (d Deps) Dry(w io.Writer) Deps {
	var dig Digester
	if x, ok := d.Pusher.(Digester); ok {
		dig = x
	}
	d.WriteChecks = nil
	d.Releaser = &dryReleaser{w: w}
	d.Pusher = &dryPusher{w: w, digester: dig}
	d.Verifier = nil
	d.Channels = &dryChannels{w: w}
	d.Commenter = &dryCommenter{w: w}
	d.Statuses = &dryStatus{w: w}
	return d
}
