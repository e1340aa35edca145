package promote

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/model-release/model-release/internal/github"
	"github.com/model-release/model-release/internal/github/githubtest"
	"github.com/model-release/model-release/internal/registry"
)

// memRegistry is ggcr's in-memory registry recording each request.
type memRegistry struct {
	host string
	mu   sync.Mutex
	reqs []string
}

func newMemRegistry(t *testing.T) *memRegistry {
	t.Helper()
	r := &memRegistry{}
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// writes counts requests that change the registry.
func (r *memRegistry) writes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		if strings.HasPrefix(q, "PUT ") || strings.HasPrefix(q, "POST ") || strings.HasPrefix(q, "PATCH ") || strings.HasPrefix(q, "DELETE ") {
			out = append(out, q)
		}
	}
	return out
}

// pushRandom pushes a small random image under tags and returns its digest.
func pushRandom(t *testing.T, repo string, tags ...string) string {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		ref, err := name.NewTag(repo + ":" + tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	return d.String()
}

// env is a repository with released versions, their images, and a
// promoter wired to the fake GitHub and the in-memory registry.
type env struct {
	t       *testing.T
	gh      *githubtest.Server
	reg     *memRegistry
	image   string
	client  *github.Client
	pusher  *registry.Pusher
	p       *Promoter
	clock   time.Time
	digests map[string]string // version -> digest
}

func sha(n int) string { return strings.Repeat(fmt.Sprintf("%02x", n+16), 20) }

// seed is a release to seed: gate and deploy outcomes; noRecord leaves
// release.json out.
type seed struct {
	v              string
	gate, deploy   bool
	noRecord       bool
	recordedDigest bool // put the digest in release.json (else resolved by tag)
}

func newEnv(t *testing.T, versions ...seed) *env {
	t.Helper()
	e := &env{t: t, gh: githubtest.New(t), reg: newMemRegistry(t), digests: map[string]string{},
		clock: time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)}
	e.image = e.reg.host + "/owner/model"
	for i, v := range versions {
		d := pushRandom(t, e.image, strings.ReplaceAll(v.v, "+", "_"), "sha-"+sha(i + 1)[:7])
		e.digests[v.v] = d
		rec := Record{Version: v.v, Tag: "v" + v.v, Commit: sha(i + 1), Image: e.image,
			Gate: Check{Ran: true, Passed: v.gate}, DeployCheck: Check{Ran: true, Passed: v.deploy}}
		if !v.gate {
			rec.Gate.Detail = "min-accuracy: accuracy is 41.00%, limit ≥ 50.00%"
		}
		if v.recordedDigest {
			rec.Digest = d
		}
		b, _ := json.Marshal(rec)
		assets := []githubtest.Asset{{Name: "metrics.json", Data: []byte(`{"accuracy":0.8}`)}}
		if !v.noRecord {
			assets = append(assets, githubtest.Asset{Name: RecordAsset, Data: b})
		}
		e.gh.AddRelease(githubtest.Release{Tag: "v" + v.v, Target: sha(i + 1), Name: "v" + v.v, Assets: assets})
	}
	c, err := github.New(githubtest.DefaultToken, e.gh.URL, "owner/model", github.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	e.pusher = registry.NewPusher()
	e.p = &Promoter{
		GitHub: c, Images: e.pusher, Store: ReleaseStore{GitHub: c},
		Image: e.image, Channels: []string{"candidate", "staging", "stable"}, TagPrefix: "v",
		Actor: "alice", Now: func() time.Time { e.clock = e.clock.Add(time.Hour); return e.clock },
	}
	return e
}

// channel is the digest the channel tag names now.
func (e *env) channel(ch string) string {
	e.t.Helper()
	d, err := e.pusher.Digest(context.Background(), e.image+":"+ch)
	if err != nil {
		e.t.Fatalf("channel %s: %v", ch, err)
	}
	return d
}

func (e *env) history() History {
	e.t.Helper()
	h, err := ReleaseStore{GitHub: e.client}.Load(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func (e *env) latest() string {
	for _, r := range e.gh.Releases() {
		if r.Latest {
			return r.Tag
		}
	}
	return ""
}

// ghWrites lists the GitHub requests that change state.
func (e *env) ghWrites() []string {
	var out []string
	for _, r := range e.gh.Requests() {
		if r.Method != http.MethodGet {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

func githubtestForbidden() githubtest.Fault { return githubtest.Forbidden() }
