// Package config holds the one Config that every front end fills: CLI flags,
// action inputs, a YAML file and MODEL_RELEASE_* environment variables.
//
// Each option is declared once, as a struct field with an `opt` tag naming it
// in kebab-case. That name is the CLI flag (--min-accuracy), the action input
// (min-accuracy), the YAML key (min-accuracy) and, upper-snake-cased with a
// prefix, the environment twin (MODEL_RELEASE_MIN_ACCURACY). Precedence, from
// weakest to strongest: defaults, YAML file, environment, flags or inputs.
package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
)

// EnvPrefix starts the environment twin of every option.
const EnvPrefix = "MODEL_RELEASE_"

// DefaultFile is the optional YAML file read when --config is not given.
const DefaultFile = ".github/model-release.yml"

// Config is everything a run of model-release can be told. Field order
// groups options by the stage that uses them.
type Config struct {
	// General.
	Command    string `opt:"command" help:"what to do: run, promote, rollback or prune (default: chosen from the event)"`
	ConfigFile string `opt:"config" help:"YAML file with options (default .github/model-release.yml when present)"`
	DryRun     bool   `opt:"dry-run" help:"print what would be done and change nothing"`
	WorkDir    string `opt:"work-dir" help:"folder for outputs: model, metrics, checkpoints"`

	// Data.
	Data            string  `opt:"data" help:"dataset: a folder, a .tar.gz, a URL, \"download\" for the canonical CIFAR-10, or empty for the embedded sample"`
	CacheDir        string  `opt:"cache-dir" help:"where downloaded datasets are cached (default: user cache dir, or RUNNER_TOOL_CACHE in Actions)"`
	ValidationSplit float64 `opt:"validation-split" help:"fraction of the training images held out for validation when the data has no validation split"`

	// Model and training.
	Model        string  `opt:"model" help:"an existing model file or folder to use instead of training"`
	Architecture string  `opt:"architecture" help:"network to train: seed or convnet"`
	Epochs       int     `opt:"epochs" help:"training epochs"`
	BatchSize    int     `opt:"batch-size" help:"images per training step"`
	LearningRate float64 `opt:"learning-rate" help:"peak learning rate"`
	Optimizer    string  `opt:"optimizer" help:"sgd (with momentum) or adamw"`
	Momentum     float64 `opt:"momentum" help:"SGD momentum"`
	WeightDecay  float64 `opt:"weight-decay" help:"decoupled weight decay"`
	Schedule     string  `opt:"schedule" help:"learning-rate schedule: onecycle, cosine or constant"`
	WarmupEpochs float64 `opt:"warmup-epochs" help:"epochs of linear warm-up (cosine schedule)"`
	Augment      bool    `opt:"augment" help:"random crop with 4-pixel padding and horizontal flip"`
	Patience     int     `opt:"patience" help:"stop after this many epochs without validation improvement (0: never)"`
	Seed         int64   `opt:"seed" help:"random seed: same seed and data give the same weights"`
	Resume       bool    `opt:"resume" help:"continue from the last checkpoint in the work dir"`
	Kernels      string  `opt:"kernels" help:"layer implementation: fast or stock (gorgonia's own ops)"`
	Device       string  `opt:"device" help:"auto, cpu or gpu"`
	Threads      int     `opt:"threads" help:"CPU worker threads (0: all cores)"`

	// Gate.
	MinAccuracy      float64 `opt:"min-accuracy" help:"absolute accuracy floor, 0..1"`
	MaxRegression    float64 `opt:"max-regression" help:"allowed drop against the baseline, in accuracy points (0.5 = half a point)"`
	MinClassAccuracy float64 `opt:"min-class-accuracy" help:"per-class accuracy floor, 0..1 (0: off)"`
	GateMetric       string  `opt:"gate-metric" help:"metric the gate compares: accuracy or top3"`
	Baseline         string  `opt:"baseline" help:"baseline: a metrics.json or model file, \"latest\" (latest release), a release tag, or \"none\""`

	// Version and release.
	Bump        string `opt:"bump" help:"major, minor, patch or auto (PR labels, conventional commits)"`
	Version     string `opt:"version" help:"explicit version, wins over bump"`
	TagPrefix   string `opt:"tag-prefix" help:"prefix of model tags, e.g. v or model-v"`
	Release     bool   `opt:"release" help:"create the GitHub Release"`
	MakeLatest  bool   `opt:"make-latest" help:"mark the release as latest when published"`
	Cleanup     bool   `opt:"cleanup" help:"delete a leftover draft release instead of completing it"`
	Comment     bool   `opt:"comment" help:"post the sticky PR comment"`
	StatusCheck bool   `opt:"status-check" help:"post the PR status check"`

	// GitHub.
	GitHubToken string `opt:"github-token" secret:"true" help:"token for the GitHub API and GHCR"`
	GitHubAPI   string `opt:"github-api-url" help:"GitHub API base URL (GitHub Enterprise Server)"`
	Repository  string `opt:"repository" help:"owner/name of the repository"`

	// Registry.
	Push     bool   `opt:"push" help:"push the model image"`
	Image    string `opt:"image" help:"image repository, e.g. ghcr.io/owner/name (default ghcr.io/<repository>)"`
	Registry string `opt:"registry" help:"registry host (default ghcr.io)"`
	Base     string `opt:"base" help:"base image for the model image"`
	Format   string `opt:"format" help:"image (runnable server) or modelpack (CNCF ModelPack artifact)"`
	// Binary matters outside the action's container: a laptop's own
	// executable may not be a static Linux build.
	Binary   string `opt:"binary" help:"static Linux model-release binary put in the image (default: the running executable)"`
	Channels string `opt:"channels" help:"comma-separated promotion channels; the first gets every release, the last is production"`

	// Promotion and retention (promote, rollback, history, prune).
	To            string `opt:"to" help:"promote: the channel to move (e.g. stable); rollback: the version to return to (default: the previous one)"`
	Channel       string `opt:"channel" help:"channel to roll back or show (default for rollback: the last, production channel)"`
	Reason        string `opt:"reason" help:"why the channel moves, recorded in the channel history (required with force)"`
	Force         bool   `opt:"force" help:"promote although the version's gate or deployment check did not pass (needs reason)"`
	KeepDays      int    `opt:"keep-days" help:"prune: keep versions a channel pointed at within this many days, and pr-* images of pull requests closed less long ago"`
	KeepLast      int    `opt:"keep-last" help:"prune: always keep this many newest versions"`
	Apply         bool   `opt:"apply" help:"prune: delete what the plan says (default: only print the plan)"`
	PruneReleases bool   `opt:"prune-releases" help:"prune: also delete the GitHub Releases of pruned versions (their git tags stay)"`
	// RegistryUsername/Password log in explicitly; without them ghcr.io uses
	// the GitHub token and other registries the Docker config.
	RegistryUsername string `opt:"registry-username" help:"registry login name (default: the GitHub token for ghcr.io, else ~/.docker/config.json)"`
	RegistryPassword string `opt:"registry-password" secret:"true" help:"registry password or token (use MODEL_RELEASE_REGISTRY_PASSWORD)"`

	// Serving (model-release serve).
	Addr         string `opt:"addr" help:"address the prediction server listens on, host:port"`
	MaxBodyBytes int64  `opt:"max-body-bytes" help:"largest accepted request body in bytes (larger: 413)"`
	MaxImages    int    `opt:"max-images" help:"most images in one JSON prediction batch (more: 413)"`
	ServeWorkers int    `opt:"serve-workers" help:"requests decoded and predicted at once (0: one per CPU)"`
}

// Default returns the configuration used when nothing else is said.
func Default() Config {
	return Config{
		WorkDir:         "model-release-out",
		ValidationSplit: 0.1,
		Architecture:    "convnet",
		Epochs:          30,
		BatchSize:       128,
		LearningRate:    0.05,
		Optimizer:       "sgd",
		Momentum:        0.9,
		WeightDecay:     5e-4,
		Schedule:        "onecycle",
		WarmupEpochs:    1,
		Augment:         true,
		Patience:        0,
		Seed:            1,
		Kernels:         "fast",
		Device:          "auto",
		MinAccuracy:     0.5,
		MaxRegression:   1.0,
		GateMetric:      "accuracy",
		Baseline:        "latest",
		Bump:            "auto",
		TagPrefix:       "v",
		Release:         true,
		MakeLatest:      true,
		Comment:         true,
		StatusCheck:     true,
		GitHubAPI:       "https://api.github.com",
		Push:            true,
		Registry:        "ghcr.io",
		Format:          "image",
		Channels:        "candidate,staging,stable",
		KeepDays:        90,
		KeepLast:        10,
		Addr:            ":8080",
		MaxBodyBytes:    8 << 20,
		MaxImages:       64,
	}
}

var (
	semverRe    = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	repoRe      = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	tagPrefixRe = regexp.MustCompile(`^[A-Za-z0-9_./-]*$`)
	channelRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
)

// Validate reports every problem at once, each naming its option.
func (c *Config) Validate() error {
	var errs []error
	bad := func(opt string, v any, want string) {
		errs = append(errs, fmt.Errorf("%q: %v is not %s", opt, v, want))
	}
	oneOf := func(opt, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(opt, fmt.Sprintf("%q", v), "one of "+strings.Join(allowed, ", "))
	}
	unit := func(opt string, v float64) {
		if math.IsNaN(v) || v < 0 || v > 1 {
			bad(opt, v, "a number between 0 and 1")
		}
	}

	if c.Command != "" {
		oneOf("command", c.Command, "run", "train", "promote", "rollback", "prune")
	}
	if c.ValidationSplit < 0 || c.ValidationSplit >= 1 || math.IsNaN(c.ValidationSplit) {
		bad("validation-split", c.ValidationSplit, "a fraction from 0 up to (not including) 1")
	}
	oneOf("architecture", c.Architecture, "seed", "convnet")
	if c.Epochs < 1 || c.Epochs > 10000 {
		bad("epochs", c.Epochs, "a whole number from 1 to 10000")
	}
	if c.BatchSize < 1 || c.BatchSize > 8192 {
		bad("batch-size", c.BatchSize, "a whole number from 1 to 8192")
	}
	if !(c.LearningRate > 0 && c.LearningRate <= 10) {
		bad("learning-rate", c.LearningRate, "a number above 0 and at most 10")
	}
	oneOf("optimizer", c.Optimizer, "sgd", "adamw")
	if c.Momentum < 0 || c.Momentum >= 1 || math.IsNaN(c.Momentum) {
		bad("momentum", c.Momentum, "a number from 0 up to (not including) 1")
	}
	if c.WeightDecay < 0 || c.WeightDecay > 1 || math.IsNaN(c.WeightDecay) {
		bad("weight-decay", c.WeightDecay, "a number between 0 and 1")
	}
	oneOf("schedule", c.Schedule, "onecycle", "cosine", "constant")
	if c.WarmupEpochs < 0 || math.IsNaN(c.WarmupEpochs) {
		bad("warmup-epochs", c.WarmupEpochs, "a non-negative number")
	}
	if c.Patience < 0 {
		bad("patience", c.Patience, "a non-negative whole number")
	}
	oneOf("kernels", c.Kernels, "fast", "stock")
	oneOf("device", c.Device, "auto", "cpu", "gpu")
	if c.Threads < 0 {
		bad("threads", c.Threads, "a non-negative whole number")
	}

	unit("min-accuracy", c.MinAccuracy)
	if c.MaxRegression < 0 || c.MaxRegression > 100 || math.IsNaN(c.MaxRegression) {
		bad("max-regression", c.MaxRegression, "a number of accuracy points from 0 to 100")
	}
	unit("min-class-accuracy", c.MinClassAccuracy)
	oneOf("gate-metric", c.GateMetric, "accuracy", "top3")

	oneOf("bump", c.Bump, "major", "minor", "patch", "auto")
	if c.Version != "" && !semverRe.MatchString(c.Version) {
		bad("version", fmt.Sprintf("%q", c.Version), "a semantic version such as 1.2.3 or v1.2.3-rc.1")
	}
	if !tagPrefixRe.MatchString(c.TagPrefix) {
		bad("tag-prefix", fmt.Sprintf("%q", c.TagPrefix), "made of letters, digits and . _ / -")
	}
	if c.Repository != "" && !repoRe.MatchString(c.Repository) {
		bad("repository", fmt.Sprintf("%q", c.Repository), "of the form owner/name")
	}
	if u, err := url.Parse(c.GitHubAPI); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("github-api-url", fmt.Sprintf("%q", c.GitHubAPI), "an http(s) URL")
	}
	oneOf("format", c.Format, "image", "modelpack")
	if c.Channels != "" {
		for _, ch := range c.ChannelList() {
			if !channelRe.MatchString(ch) {
				bad("channels", fmt.Sprintf("%q", ch), "a lowercase channel name (letters, digits, . _ -)")
			}
		}
	}
	if c.KeepDays < 0 || c.KeepDays > 36500 {
		bad("keep-days", c.KeepDays, "a whole number of days from 0 to 36500")
	}
	if c.KeepLast < 0 || c.KeepLast > 100000 {
		bad("keep-last", c.KeepLast, "a whole number from 0 to 100000")
	}
	if c.Force && strings.TrimSpace(c.Reason) == "" {
		bad("force", true, "allowed without \"reason\": say why the checks are overridden, it is recorded")
	}
	if c.Addr == "" || !strings.Contains(c.Addr, ":") {
		bad("addr", fmt.Sprintf("%q", c.Addr), "a host:port address such as :8080 or 127.0.0.1:8080")
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 1<<30 {
		bad("max-body-bytes", c.MaxBodyBytes, "a byte count from 1024 to 1073741824")
	}
	if c.MaxImages < 1 || c.MaxImages > 4096 {
		bad("max-images", c.MaxImages, "a whole number from 1 to 4096")
	}
	if c.ServeWorkers < 0 || c.ServeWorkers > 1024 {
		bad("serve-workers", c.ServeWorkers, "a whole number from 0 to 1024")
	}
	return errors.Join(errs...)
}

// ChannelList splits Channels into names, dropping blanks.
func (c *Config) ChannelList() []string {
	var out []string
	for _, s := range strings.Split(c.Channels, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
