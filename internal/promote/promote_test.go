package promote

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/exitcode"
)

func standard(t *testing.T) *env {
	return newEnv(t,
		seed{v: "1.0.0", gate: true, deploy: true, recordedDigest: true},
		seed{v: "1.1.0", gate: true, deploy: true},
		seed{v: "1.2.0", gate: false, deploy: true, recordedDigest: true},
		seed{v: "1.3.0", gate: true, deploy: true, recordedDigest: true},
		seed{v: "1.4.0", noRecord: true},
	)
}

func TestPromoteMovesTagRecordsAndMarksLatest(t *testing.T) {
	e := standard(t)
	ctx := context.Background()

	res, err := e.p.Promote(ctx, Request{Version: "1.0.0", Channel: "stable", Reason: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Tagged || !res.Latest || res.NoOp {
		t.Fatalf("result %+v: want tagged, latest, not a no-op", res)
	}
	if got := e.channel("stable"); got != e.digests["1.0.0"] {
		t.Fatalf("stable -> %s, want 1.0.0's %s", got, e.digests["1.0.0"])
	}
	if e.latest() != "v1.0.0" {
		t.Fatalf("latest release %q, want v1.0.0", e.latest())
	}

	// A version without a digest in release.json is found by its image tag;
	// a non-production channel leaves latest alone.
	if _, err := e.p.Promote(ctx, Request{Version: "v1.1.0", Channel: "staging"}); err != nil {
		t.Fatal(err)
	}
	if e.channel("staging") != e.digests["1.1.0"] || e.latest() != "v1.0.0" {
		t.Fatalf("staging -> %s (want %s), latest %s (want v1.0.0)", e.channel("staging"), e.digests["1.1.0"], e.latest())
	}
	if _, err := e.p.Promote(ctx, Request{Version: "1.1.0", Channel: "stable", Reason: "better"}); err != nil {
		t.Fatal(err)
	}

	h := e.history()
	if len(h.Moves) != 3 {
		t.Fatalf("history has %d moves, want 3: %+v", len(h.Moves), h.Moves)
	}
	last := h.Moves[2]
	if last.Channel != "stable" || last.Version != "1.1.0" || last.From != "1.0.0" || last.FromDigest != e.digests["1.0.0"] ||
		last.Digest != e.digests["1.1.0"] || last.Actor != "alice" || last.Reason != "better" || last.Kind != KindPromote || last.Forced {
		t.Fatalf("last move %+v", last)
	}
	if !last.At.After(h.Moves[0].At) {
		t.Fatalf("move times not increasing: %v then %v", h.Moves[0].At, last.At)
	}
	if e.channel("stable") != e.digests["1.1.0"] || e.latest() != "v1.1.0" {
		t.Fatalf("stable -> %s, latest %s", e.channel("stable"), e.latest())
	}
	// The history release is a prerelease and never the latest.
	for _, r := range e.gh.Releases() {
		if r.Tag == HistoryTag && (!r.Prerelease || r.Latest || r.Draft) {
			t.Fatalf("history release %+v: want a published prerelease, not latest", r)
		}
	}
}

func TestPromoteFailedVersionIsRefused(t *testing.T) {
	e := standard(t)
	ctx := context.Background()
	regWrites, ghWrites := len(e.reg.writes()), len(e.ghWrites())
	for _, v := range []string{"1.2.0", "1.4.0"} {
		_, err := e.p.Promote(ctx, Request{Version: v, Channel: "stable"})
		var re *RefusedError
		if !errors.As(err, &re) || exitcode.For(err) != exitcode.GateFailed {
			t.Fatalf("promote %s: err %v, want a RefusedError exiting %d", v, err, exitcode.GateFailed)
		}
		if !strings.Contains(err.Error(), "--force") {
			t.Errorf("refusal %q does not say how to override", err)
		}
	}
	if w := e.reg.writes()[regWrites:]; len(w) != 0 {
		t.Fatalf("refused promotion wrote to the registry: %v", w)
	}
	if w := e.ghWrites()[ghWrites:]; len(w) != 0 {
		t.Fatalf("refused promotion wrote to GitHub: %v", w)
	}
	if _, err := e.p.Promote(ctx, Request{Version: "9.9.9", Channel: "stable"}); err == nil || !strings.Contains(err.Error(), "no release v9.9.9") {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := e.p.Promote(ctx, Request{Version: "1.0.0", Channel: "prod"}); exitcode.For(err) != exitcode.Usage {
		t.Fatalf("unknown channel: %v, want a usage error", err)
	}
}

func TestPromoteForceIsRecorded(t *testing.T) {
	e := standard(t)
	ctx := context.Background()
	if _, err := e.p.Promote(ctx, Request{Version: "1.2.0", Channel: "stable", Force: true}); exitcode.For(err) != exitcode.Usage {
		t.Fatalf("--force without --reason: %v, want a usage error", err)
	}
	res, err := e.p.Promote(ctx, Request{Version: "1.2.0", Channel: "stable", Force: true, Reason: "hotfix for class cat"})
	if err != nil {
		t.Fatal(err)
	}
	if e.channel("stable") != e.digests["1.2.0"] {
		t.Fatal("forced promotion did not move the tag")
	}
	m := e.history().Moves[0]
	if !m.Forced || !strings.Contains(m.Checks, "gate failed") || m.Reason != "hotfix for class cat" || m != res.Move {
		t.Fatalf("forced move recorded as %+v (result %+v)", m, res.Move)
	}
}

func TestRollbackTwice(t *testing.T) {
	e := standard(t)
	ctx := context.Background()
	for _, v := range []string{"1.0.0", "1.1.0", "1.3.0"} {
		if _, err := e.p.Promote(ctx, Request{Version: v, Channel: "stable"}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"1.1.0", "1.0.0"}
	for i, v := range want {
		res, err := e.p.Rollback(ctx, RollbackRequest{Reason: "regression in prod"})
		if err != nil {
			t.Fatalf("rollback %d: %v", i+1, err)
		}
		if res.Move.Version != v || res.Move.Kind != KindRollback || res.Move.Channel != "stable" {
			t.Fatalf("rollback %d moved %+v, want stable back to %s", i+1, res.Move, v)
		}
		if e.channel("stable") != e.digests[v] || e.latest() != "v"+v {
			t.Fatalf("after rollback %d: stable -> %s, latest %s; want %s", i+1, e.channel("stable"), e.latest(), v)
		}
		h := e.history()
		if len(h.Moves) != 4+i || h.Moves[len(h.Moves)-1].Reason != "regression in prod" {
			t.Fatalf("after rollback %d history %+v", i+1, h.Moves)
		}
		view, err := BuildView(ctx, e.client, "v", h, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		var buf strings.Builder
		if err := view.WriteTable(&buf); err != nil {
			t.Fatal(err)
		}
		for _, r := range view.Versions {
			onStable := strings.Join(r.Channels, ",") == "stable"
			if onStable != (r.Version == v) {
				t.Fatalf("after rollback %d the view puts %s on %v:\n%s", i+1, r.Version, r.Channels, buf.String())
			}
			if r.Version == "1.2.0" && r.Gate != "failed" || r.Version == "1.4.0" && r.Gate != "unknown" || r.Version == "1.0.0" && r.Gate != "passed" {
				t.Fatalf("gate verdict of %s is %s", r.Version, r.Gate)
			}
		}
		if len(view.Versions) != 5 || len(view.Moves) != len(h.Moves) || !strings.Contains(buf.String(), "rollback") {
			t.Fatalf("view after rollback %d:\n%s", i+1, buf.String())
		}
	}
	if _, err := e.p.Rollback(ctx, RollbackRequest{}); err == nil || !strings.Contains(err.Error(), "--to") {
		t.Fatalf("third rollback: %v, want no earlier version", err)
	}
	// --to a version the channel served: no checks; to one it never served
	// and that failed its gate: refused.
	if res, err := e.p.Rollback(ctx, RollbackRequest{To: "1.3.0"}); err != nil || res.Move.Version != "1.3.0" {
		t.Fatalf("rollback --to 1.3.0: %+v %v", res, err)
	}
	var re *RefusedError
	if _, err := e.p.Rollback(ctx, RollbackRequest{To: "1.2.0"}); !errors.As(err, &re) {
		t.Fatalf("rollback --to the failed 1.2.0: %v, want refused", err)
	}
}

func TestRepromoteIsANoOp(t *testing.T) {
	e := standard(t)
	ctx := context.Background()
	if _, err := e.p.Promote(ctx, Request{Version: "1.0.0", Channel: "stable"}); err != nil {
		t.Fatal(err)
	}
	regWrites, ghWrites := len(e.reg.writes()), len(e.ghWrites())
	res, err := e.p.Promote(ctx, Request{Version: "1.0.0", Channel: "stable", Reason: "again"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.NoOp || res.Tagged || res.Latest {
		t.Fatalf("re-run result %+v, want a no-op", res)
	}
	if w := e.reg.writes()[regWrites:]; len(w) != 0 {
		t.Fatalf("re-run wrote to the registry: %v", w)
	}
	if w := e.ghWrites()[ghWrites:]; len(w) != 0 {
		t.Fatalf("re-run wrote to GitHub: %v", w)
	}
	if n := len(e.history().Moves); n != 1 {
		t.Fatalf("history has %d moves after a re-run, want 1", n)
	}
}

func TestRerunCompletesAPartialPromotion(t *testing.T) {
	e := standard(t)
	ctx := context.Background()
	if _, err := e.p.Promote(ctx, Request{Version: "1.0.0", Channel: "stable"}); err != nil {
		t.Fatal(err)
	}
	// The tag moves, then recording fails: the error says to re-run.
	e.gh.FailNext("POST", "/uploads/repos/*/*/releases/*/assets", githubtestForbidden())
	_, err := e.p.Promote(ctx, Request{Version: "1.1.0", Channel: "stable"})
	if err == nil || !strings.Contains(err.Error(), "re-run") {
		t.Fatalf("failed record: %v", err)
	}
	if e.channel("stable") != e.digests["1.1.0"] {
		t.Fatal("tag did not move before the record failed")
	}
	regWrites := len(e.reg.writes())
	res, err := e.p.Promote(ctx, Request{Version: "1.1.0", Channel: "stable"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tagged || len(e.reg.writes()) != regWrites {
		t.Fatal("re-run wrote the tag again")
	}
	h := e.history()
	if len(h.Moves) != 2 || h.Moves[1].Version != "1.1.0" || h.Moves[1].From != "1.0.0" || e.latest() != "v1.1.0" {
		t.Fatalf("history after re-run %+v, latest %s", h.Moves, e.latest())
	}
}
