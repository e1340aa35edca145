package pipeline

import (
	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/event"
	"github.com/model-release/model-release/internal/metrics"
)

// State is what the stages read and write, in the order they fill it.
type State struct {
	Config config.Config
	Event  *event.Event
	Mode   Mode

	Data     Dataset
	ModelDir string // folder with model.safetensors, model.json, metrics.json
	Trained  bool   // false when --model reused an existing model
	History  []metrics.Epoch

	Metrics      *metrics.Metrics
	HeldOut      *HeldOut         // evaluation images and probabilities, for the deployment check
	Baseline     *metrics.Metrics // nil when there is none
	BaselineName string           // e.g. "v1.2.0" or a file name
	Gate         *Decision

	Version string // without prefix, e.g. 1.3.0
	Tag     string // with prefix, e.g. v1.3.0

	ReleaseURL string
	Assets     []string        // files attached to the release
	Draft      *ReleaseRequest // the draft release awaiting publication
	Published  bool            // the release is published (not a draft)
	ImageRepo  string          // repository the image was pushed to
	Image      string          // repository:tag pushed
	Digest     string          // sha256:...
	Verified   bool
	// VerifyDetail says what the deployment check compared, or why it did
	// not run; it goes into the release record.
	VerifyDetail string
	RecordPath   string // release.json attached to the release, when there is a Recorder
	Channel      string // channel tag moved to the digest, e.g. candidate

	Reports    Reports
	CommentURL string
	Status     string // success, failure or error, once posted

	Ran         []string  // stages that completed
	Skipped     []Skipped // stages that had nothing to do, with why
	Failure     error     // the error that stopped the stages
	FailedStage string
}

// Skipped records a stage that did not apply.
type Skipped struct {
	Stage, Reason string
}

// Passed reports whether the gate ran and passed.
func (s *State) Passed() bool { return s.Gate != nil && s.Gate.Passed }

// PR is the pull request number, or 0.
func (s *State) PR() int {
	if s.Event == nil {
		return 0
	}
	return s.Event.PRNumber
}

// SHA is the commit the run is about, or "".
func (s *State) SHA() string {
	if s.Event == nil {
		return ""
	}
	return s.Event.SHA
}

// Repository is owner/name from the config or the event.
func (s *State) Repository() string {
	if s.Config.Repository != "" {
		return s.Config.Repository
	}
	if s.Event != nil {
		return s.Event.Repository
	}
	return ""
}

// Decision is the gate's verdict in the pipeline's terms.
type Decision struct {
	Passed  bool
	Reasons []string // why it failed, or notes when it passed
}

// Reports are the rendered texts of a run.
type Reports struct {
	Summary      string // job summary markdown
	Comment      string // sticky PR comment markdown
	ReleaseNotes string
	ModelCard    string // MODEL_CARD.md, attached to the release
}
