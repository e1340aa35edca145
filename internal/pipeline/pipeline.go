// Package pipeline runs model-release as ordered stages over one typed
// State: preflight, load data, train, evaluate, gate, version, release,
// push, verify; then a Finally list (report, job summary, PR comment,
// status check, outputs) that always runs, even after a failed gate.
//
// Stages are structs built with their dependencies, declared here as small
// interfaces, so the pipeline is tested with fakes and wired to the real
// packages in one place. Dry-run swaps implementations (see Deps.Dry); no
// stage asks whether it is a dry run.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/model-release/model-release/internal/exitcode"
)

// Piper is one stage of the pipeline.
type Piper interface {
	Name() string
	Run(ctx context.Context, st *State) error
}

// SkipError says a stage had nothing to do. It is logged and recorded in
// the State, never treated as a failure.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return "skipped: " + e.Reason }

// Skip returns a SkipError with a formatted reason.
func Skip(format string, args ...any) error {
	return &SkipError{Reason: fmt.Sprintf(format, args...)}
}

// IsSkip reports whether err is a SkipError.
func IsSkip(err error) bool {
	var s *SkipError
	return errors.As(err, &s)
}

// GateFailedError stops publishing when the model is not good enough. It
// carries exit code 3 so workflows can tell it from a crash.
type GateFailedError struct{ Reasons []string }

func (e *GateFailedError) Error() string {
	if len(e.Reasons) == 0 {
		return "gate failed"
	}
	return "gate failed: " + joinReasons(e.Reasons)
}
func (e *GateFailedError) ExitCode() int { return exitcode.GateFailed }

func joinReasons(rs []string) string {
	out := ""
	for i, r := range rs {
		if i > 0 {
			out += "; "
		}
		out += r
	}
	return out
}

// Observer sees each stage start and end: the action turns this into
// ::group:: blocks, the CLI into log lines.
type Observer interface {
	StageStarted(name string)
	StageDone(name string, err error, took time.Duration)
}

// Pipeline is an ordered list of stages and the list that always runs.
type Pipeline struct {
	Stages   []Piper
	Finally  []Piper
	Observer Observer      // optional
	Log      *slog.Logger  // optional
	Reserve  time.Duration // time Finally gets after a cancelled context (default 2m)
}

// Names lists the stage names, Finally included, in order.
func (p *Pipeline) Names() []string {
	var out []string
	for _, s := range p.Stages {
		out = append(out, s.Name())
	}
	for _, s := range p.Finally {
		out = append(out, s.Name())
	}
	return out
}

// Run executes the stages in order until one fails, then every Finally
// stage. The first stage error comes first in the returned error, so its
// exit code wins (a failed gate exits 3 even if a report also failed).
func (p *Pipeline) Run(ctx context.Context, st *State) error {
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var mainErr error
	for _, s := range p.Stages {
		if err := ctx.Err(); err != nil {
			mainErr = fmt.Errorf("before %s: %w", s.Name(), err)
			break
		}
		if err := p.runOne(ctx, s, st, log); err != nil {
			mainErr = fmt.Errorf("%s: %w", s.Name(), err)
			st.Failure = mainErr
			st.FailedStage = s.Name()
			break
		}
	}
	// Reports must go out even when the run was cancelled or failed.
	reserve := p.Reserve
	if reserve == 0 {
		reserve = 2 * time.Minute
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reserve)
	defer cancel()
	errs := []error{mainErr}
	for _, s := range p.Finally {
		if err := p.runOne(fctx, s, st, log); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Name(), err))
		}
	}
	return errors.Join(errs...)
}

func (p *Pipeline) runOne(ctx context.Context, s Piper, st *State, log *slog.Logger) error {
	if p.Observer != nil {
		p.Observer.StageStarted(s.Name())
	}
	start := time.Now()
	err := s.Run(ctx, st)
	var skip *SkipError
	if errors.As(err, &skip) {
		st.Skipped = append(st.Skipped, Skipped{Stage: s.Name(), Reason: skip.Reason})
		log.Info("stage skipped", "stage", s.Name(), "reason", skip.Reason)
		err = nil
	} else if err == nil {
		st.Ran = append(st.Ran, s.Name())
	}
	if p.Observer != nil {
		p.Observer.StageDone(s.Name(), err, time.Since(start))
	}
	return err
}
