package registry

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestChildren(t *testing.T) {
	ctx := context.Background()
	host, _ := newRegistry(t, "", "")
	repo := host + "/owner/repo"
	idx, err := random.Index(128, 1, 2)
	must(t, err)
	ref, err := name.NewTag(repo + ":multi")
	must(t, err)
	must(t, remote.WriteIndex(ref, idx))
	m, err := idx.IndexManifest()
	must(t, err)
	p := NewPusher()
	kids, err := p.Children(ctx, repo+":multi")
	must(t, err)
	if len(kids) != 2 || kids[0] != m.Manifests[0].Digest.String() || kids[1] != m.Manifests[1].Digest.String() {
		t.Fatalf("children %v, want %v", kids, m.Manifests)
	}
	kids, err = p.Children(ctx, repo+"@"+m.Manifests[0].Digest.String())
	if err != nil || len(kids) != 0 {
		t.Fatalf("an image has children %v (err %v)", kids, err)
	}
}
