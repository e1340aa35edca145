// Package exitcode names the process exit codes of model-release and lets
// library errors choose one without importing the command package.
package exitcode

import "errors"

// The exit codes of the model-release binary. They are part of its contract:
// workflows branch on GateFailed to tell "the model is not good enough" from
// "the tool broke".
const (
	OK         = 0
	Error      = 1
	Usage      = 2
	GateFailed = 3
)

// Coder is implemented by errors that map to a specific exit code.
type Coder interface {
	ExitCode() int
}

// UsageError marks a mistake in how the command was called.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }
func (e *UsageError) ExitCode() int { return Usage }

// AsUsage wraps err as a usage error (nil stays nil).
func AsUsage(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Err: err}
}

// For returns the exit code for err: OK for nil, the code of the first error
// in the chain that carries one, and Error otherwise.
func For(err error) int {
	if err == nil {
		return OK
	}
	var c Coder
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return Error
}
