package promote

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/model-release/model-release/internal/promote/retention"
)

type fakePRs map[int]time.Time // closed PRs; absent: open

func (f fakePRs) ClosedAt(_ context.Context, n int) (bool, time.Time, error) {
	at, ok := f[n]
	return ok, at, nil
}

// pushIndex pushes a two-platform index under tag and returns its digest
// and its children.
func pushIndex(t *testing.T, repo, tag string) (string, []string) {
	t.Helper()
	idx, err := random.Index(128, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag(repo + ":" + tag)
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	m, _ := idx.IndexManifest()
	return d.String(), []string{m.Manifests[0].Digest.String(), m.Manifests[1].Digest.String()}
}

func TestPruneKeepsChannelsReferrersAndKeptIndexes(t *testing.T) {
	var seeds []seed
	for i := 0; i < 12; i++ {
		seeds = append(seeds, seed{v: fmt.Sprintf("1.%d.0", i), gate: true, deploy: true, recordedDigest: i != 7 && i != 11})
	}
	e := newEnv(t, seeds...)
	ctx := context.Background()
	// 1.7.0 (dropped) and 1.11.0 (newest, kept) are multi-platform indexes.
	var dropKids, keepKids []string
	e.digests["1.7.0"], dropKids = pushIndex(t, e.image, "1.7.0")
	e.digests["1.11.0"], keepKids = pushIndex(t, e.image, "1.11.0")
	for _, v := range []string{"1.2.0", "1.5.0"} {
		if _, err := e.p.Promote(ctx, Request{Version: v, Channel: "stable"}); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// candidate is tagged at push, unknown to the history; a signature of
	// the dropped 1.3.0, an attestation, PR images and a hand-made tag.
	must(e.pusher.Tag(ctx, e.image, e.digests["1.0.0"], "candidate"))
	sig := pushRandom(t, e.image, "sha256-"+strings.TrimPrefix(e.digests["1.3.0"], "sha256:")+".sig")
	att := pushRandom(t, e.image, "sha256-"+strings.Repeat("ab", 32)+".att")
	prOld := pushRandom(t, e.image, "pr-7", "sha-7777777")
	prOpen := pushRandom(t, e.image, "pr-8")
	prNew := pushRandom(t, e.image, "pr-9")
	hand := pushRandom(t, e.image, "latest")

	now := e.clock.Add(24 * time.Hour)
	pr := &Pruner{
		GitHub: e.client, Images: RegistryImages{Registry: e.pusher, Image: e.image},
		PRs:    fakePRs{7: now.Add(-60 * retention.Day), 9: now.Add(-3 * retention.Day)},
		Policy: retention.Policy{KeepDays: 30, KeepLast: 3}, TagPrefix: "v",
		Channels: e.p.Channels, Now: func() time.Time { return now },
	}
	regWrites, ghWrites := len(e.reg.writes()), len(e.ghWrites())
	h := e.history()
	plan, err := pr.Plan(ctx, h)
	must(err)
	if w := e.reg.writes()[regWrites:]; len(w) != 0 {
		t.Fatalf("planning wrote to the registry: %v", w)
	}
	if w := e.ghWrites()[ghWrites:]; len(w) != 0 {
		t.Fatalf("planning wrote to GitHub: %v", w)
	}
	var kept []string
	for _, d := range plan.Versions {
		if d.Keep {
			kept = append(kept, d.Name+":"+d.Reason)
		}
	}
	sort.Strings(kept)
	want := "1.0.0:channel,1.10.0:newest,1.11.0:newest,1.2.0:recent-channel,1.5.0:channel,1.9.0:newest"
	if strings.Join(kept, ",") != want {
		t.Fatalf("kept %v\nwant %s", kept, want)
	}
	deleted := map[string]bool{}
	for _, a := range plan.DeleteImages {
		deleted[a.Digest] = true
	}
	for _, v := range []string{"1.1.0", "1.3.0", "1.4.0", "1.6.0", "1.7.0", "1.8.0"} {
		if !deleted[e.digests[v]] {
			t.Errorf("plan keeps the image of dropped %s", v)
		}
	}
	for _, d := range append([]string{e.digests["1.0.0"], e.digests["1.2.0"], e.digests["1.5.0"], e.digests["1.11.0"], sig, att, prOpen, prNew, hand}, keepKids...) {
		if deleted[d] {
			t.Errorf("plan deletes %s, which must be kept", d)
		}
	}
	for _, d := range append([]string{prOld}, dropKids...) {
		if !deleted[d] {
			t.Errorf("plan keeps %s (old PR image or child of a dropped index)", d)
		}
	}
	var out strings.Builder
	must(plan.Write(&out, true))
	if !strings.Contains(out.String(), "v1.3.0") || !strings.Contains(out.String(), "pull request #7") {
		t.Errorf("printed plan lacks the release or PR image:\n%s", out.String())
	}

	must(pr.Apply(ctx, plan, true))
	for _, ch := range []string{"stable", "candidate"} {
		if got := e.channel(ch); got != map[string]string{"stable": e.digests["1.5.0"], "candidate": e.digests["1.0.0"]}[ch] {
			t.Errorf("%s moved to %s after prune", ch, got)
		}
	}
	tags, err := e.pusher.ListTags(ctx, e.image)
	must(err)
	for _, tag := range []string{"1.1.0", "1.3.0", "1.7.0", "pr-7", "sha-7777777"} {
		if slices.Contains(tags, tag) {
			t.Errorf("tag %s survived the prune", tag)
		}
	}
	for _, d := range keepKids {
		if _, err := e.pusher.Digest(ctx, e.image+"@"+d); err != nil {
			t.Errorf("child %s of the kept index is gone: %v", d, err)
		}
	}
	for _, d := range dropKids {
		if _, err := e.pusher.Digest(ctx, e.image+"@"+d); err == nil {
			t.Errorf("child %s of the dropped index survived", d)
		}
	}
	var rels []string
	for _, r := range e.gh.Releases() {
		rels = append(rels, r.Tag)
	}
	sort.Strings(rels)
	if got := strings.Join(rels, ","); got != "model-release-channels,v1.0.0,v1.10.0,v1.11.0,v1.2.0,v1.5.0,v1.9.0" {
		t.Errorf("releases after prune: %s", got)
	}
	if _, ok := e.gh.Tags()["v1.3.0"]; !ok {
		t.Error("prune deleted the git tag of a dropped version")
	}
	// A second plan finds nothing more to delete.
	plan, err = pr.Plan(ctx, h)
	must(err)
	if len(plan.DeleteImages) != 0 {
		t.Errorf("second prune would delete %d images", len(plan.DeleteImages))
	}
}
