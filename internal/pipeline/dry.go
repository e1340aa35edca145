package pipeline

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// The dry implementations print what the real ones would do, in the words
// of the plan ("would create ..."), and change nothing.

type dryReleaser struct{ w io.Writer }

func (d *dryReleaser) Release(_ context.Context, r ReleaseRequest) (string, error) {
	if !r.Draft {
		fmt.Fprintf(d.w, "Would publish release %s (latest %t) once the pushed image is verified\n", r.Tag, r.MakeLatest)
		return "", nil
	}
	at := r.SHA
	if at == "" {
		at = "the current commit"
	}
	fmt.Fprintf(d.w, "Would create draft release %s (tag %s at %s, prerelease %t, latest %t) with assets:\n", r.Name, r.Tag, at, r.Prerelease, r.MakeLatest)
	for _, a := range r.Assets {
		fmt.Fprintf(d.w, "  - %s\n", filepath.Base(a))
	}
	fmt.Fprintf(d.w, "Release notes:\n%s\n", indent(r.Body))
	return "", nil
}

type dryPusher struct {
	w        io.Writer
	digester Digester
}

func (d *dryPusher) Push(ctx context.Context, r PushRequest) (PushResult, error) {
	digest := "(computed at push time)"
	if d.digester != nil {
		dg, err := d.digester.Digest(ctx, r)
		if err != nil {
			return PushResult{}, fmt.Errorf("building the image to compute its digest: %w", err)
		}
		digest = dg
	}
	fmt.Fprintf(d.w, "Would push image %s with tags %s, digest %s, labels (besides the model's weights digest, architecture and accuracy):\n", r.Repo, strings.Join(r.Tags, ", "), digest)
	for _, k := range sortedKeys(r.Labels) {
		fmt.Fprintf(d.w, "  %s=%s\n", k, r.Labels[k])
	}
	// The pushed reference and digest stay empty: nothing was pushed.
	return PushResult{}, nil
}

type dryChannels struct{ w io.Writer }

func (d *dryChannels) TagChannel(_ context.Context, r ChannelRequest) error {
	digest := r.Digest
	if digest == "" {
		digest = "the pushed digest"
	}
	fmt.Fprintf(d.w, "Would point channel tag %s:%s at %s and record the move (%s)\n", r.Repo, r.Channel, digest, r.Reason)
	return nil
}

type dryCommenter struct{ w io.Writer }

func (d *dryCommenter) Comment(_ context.Context, pr int, body string) (string, error) {
	fmt.Fprintf(d.w, "Would create or update the model-release comment on pull request #%d:\n%s\n", pr, indent(body))
	return "", nil
}

type dryStatus struct{ w io.Writer }

func (d *dryStatus) Status(_ context.Context, r StatusRequest) error {
	fmt.Fprintf(d.w, "Would set status %s on %s (%s): %s\n", r.State, short(r.SHA), r.Context, r.Description)
	return nil
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}
