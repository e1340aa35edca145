package registry

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// realRegistry finds the registry started by .ci/registry.sh: the
// MODEL_RELEASE_TEST_REGISTRY* variables, else .ci/registry/credentials.env.
// It skips the test when nothing answers there.
func realRegistry(t *testing.T) (addr string, auth Auth) {
	t.Helper()
	vals := map[string]string{}
	if dir, err := os.Getwd(); err == nil {
		for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
			if f, err := os.Open(filepath.Join(dir, ".ci", "registry", "credentials.env")); err == nil {
				sc := bufio.NewScanner(f)
				for sc.Scan() {
					if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && !strings.HasPrefix(k, "#") {
						vals[k] = v
					}
				}
				f.Close()
				break
			}
		}
	}
	get := func(k string) string {
		if v, ok := os.LookupEnv(k); ok && v != "" {
			return v
		}
		return vals[k]
	}
	addr = get("MODEL_RELEASE_TEST_REGISTRY")
	auth = Auth{Username: get("MODEL_RELEASE_TEST_REGISTRY_USER"), Password: get("MODEL_RELEASE_TEST_REGISTRY_PASSWORD")}
	if addr == "" {
		t.Skip("no test registry configured: set MODEL_RELEASE_TEST_REGISTRY or keep .ci/registry/credentials.env")
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Skipf("test registry %s is not running (%v): start it with .ci/registry.sh start (.ci/run does)", addr, err)
	}
	c.Close()
	return addr, auth
}

// countingTransport counts blob uploads the registry accepted (202 to the
// POST that starts one).
type countingTransport struct {
	next    http.RoundTripper
	uploads atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") && resp.StatusCode == http.StatusAccepted {
		c.uploads.Add(1)
	}
	return resp, err
}

func TestIntegrationRealRegistry(t *testing.T) {
	addr, auth := realRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	repo := fmt.Sprintf("%s/Model-Release/itest-%d", addr, time.Now().UnixNano()) // capitals on purpose
	ct := &countingTransport{next: http.DefaultTransport}
	p := NewPusher(WithAuth(auth), WithTransport(ct))

	must(t, p.CheckPush(ctx, repo))
	model, bin := writeModel(t, 7), writeBinary(t, "itest")
	art, err := Build(ctx, buildOpts(model, bin))
	must(t, err)
	res, err := p.Push(ctx, art, repo, []string{"1.2.3", "sha-0123456"})
	must(t, err)
	if ct.uploads.Load() == 0 {
		t.Fatal("first push uploaded nothing")
	}

	// Re-push: same digest, no blob uploaded.
	ct.uploads.Store(0)
	again, err := Build(ctx, buildOpts(model, bin))
	must(t, err)
	res2, err := p.Push(ctx, again, repo, []string{"1.2.3"})
	must(t, err)
	if res2.Digest != res.Digest || ct.uploads.Load() != 0 {
		t.Fatalf("re-push: digest %s (first %s), %d uploads", res2.Digest, res.Digest, ct.uploads.Load())
	}

	// Labels and digest as the registry serves them.
	must(t, p.Verify(ctx, res.Repository+":1.2.3", res.Digest, art.Model))
	ref, err := name.ParseReference(res.Ref)
	must(t, err)
	img, err := remote.Image(ref, remote.WithAuth(basic(auth)))
	must(t, err)
	cf, err := img.ConfigFile()
	must(t, err)
	if cf.Config.Labels[LabelAccuracy] != "0.8125" || cf.Config.Labels[LabelSource] != "https://github.com/Owner/Repo" || cf.Config.Labels[LabelWeightsSHA256] != "sha256:"+art.Model.WeightsSHA256 {
		t.Errorf("labels %v", cf.Config.Labels)
	}

	// Layer contents come back byte for byte.
	dest := t.TempDir()
	must(t, p.PullModel(ctx, res.Ref, dest))
	for _, f := range []string{WeightsFile, MetadataFile, MetricsFile, CardFile} {
		a, _ := os.ReadFile(filepath.Join(model, f))
		b, err := os.ReadFile(filepath.Join(dest, f))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("pulled %s differs (err %v)", f, err)
		}
	}

	// Promotion: tag moves without uploads; listing and deleting work.
	ct.uploads.Store(0)
	must(t, p.Tag(ctx, res.Repository, res.Digest, "stable"))
	if d, err := p.Digest(ctx, res.Repository+":stable"); err != nil || d != res.Digest || ct.uploads.Load() != 0 {
		t.Fatalf("stable -> %s, %v, %d uploads", d, err, ct.uploads.Load())
	}
	tags, err := p.ListTags(ctx, repo)
	must(t, err)
	sort.Strings(tags)
	if strings.Join(tags, ",") != "1.2.3,sha-0123456,stable" {
		t.Errorf("tags %v", tags)
	}

	// Wrong credentials: a clear error, and nothing pushed.
	other := repo + "-denied"
	ct.uploads.Store(0)
	bad := NewPusher(WithAuth(Auth{Username: auth.Username, Password: auth.Password + "-wrong"}), WithTransport(ct))
	var pe *PermissionError
	if err := bad.CheckPush(ctx, other); !errors.As(err, &pe) {
		t.Fatalf("preflight with a wrong password: %v", err)
	}
	if _, err := bad.Push(ctx, art, other, []string{"1"}); !errors.As(err, &pe) || strings.Contains(err.Error(), auth.Password) {
		t.Fatalf("push with a wrong password: %v", err)
	}
	if tags, err := p.ListTags(ctx, other); err != nil || len(tags) != 0 || ct.uploads.Load() != 0 {
		t.Fatalf("wrong credentials left tags %v (err %v), %d uploads", tags, err, ct.uploads.Load())
	}

	must(t, p.Delete(ctx, res.Ref))
}

func basic(a Auth) authn.Authenticator {
	return authn.FromConfig(authn.AuthConfig{Username: a.Username, Password: a.Password})
}
