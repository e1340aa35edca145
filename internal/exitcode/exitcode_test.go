package exitcode

import (
	"errors"
	"fmt"
	"testing"
)

type gateErr struct{}

func (gateErr) Error() string { return "gate failed" }
func (gateErr) ExitCode() int { return GateFailed }

func TestFor(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, OK},
		{errors.New("boom"), Error},
		{AsUsage(errors.New("bad flag")), Usage},
		{fmt.Errorf("stage gate: %w", gateErr{}), GateFailed},
	}
	for _, tc := range cases {
		if got := For(tc.err); got != tc.want {
			t.Errorf("For(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if AsUsage(nil) != nil {
		t.Error("AsUsage(nil) != nil")
	}
}
