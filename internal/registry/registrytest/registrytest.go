// Package registrytest starts an in-memory OCI registry for tests outside
// internal/registry, which may not import go-containerregistry themselves,
// and reads back what was pushed to it.
package registrytest

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// New starts a registry closed at the end of the test and returns its
// host:port (127.0.0.1, which clients reach over plain HTTP).
func New(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Labels returns the config labels of the image at ref (repo:tag or
// repo@digest) and its digest.
func Labels(t testing.TB, ref string) (labels map[string]string, digest string) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatalf("registrytest: reference %q: %v", ref, err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("registrytest: reading %s: %v", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("registrytest: config of %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("registrytest: digest of %s: %v", ref, err)
	}
	return cf.Config.Labels, d.String()
}

// Tags lists the tags of repo (host/path).
func Tags(t testing.TB, repo string) []string {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatalf("registrytest: repository %q: %v", repo, err)
	}
	tags, err := remote.List(r)
	if err != nil {
		t.Fatalf("registrytest: listing %s: %v", repo, err)
	}
	return tags
}
