package registry

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestPushTwiceUploadsNothingNew(t *testing.T) {
	ctx := context.Background()
	host, rec := newRegistry(t, "", "")
	model, bin := writeModel(t, 1), writeBinary(t, "a")
	p := NewPusher()
	image := host + "/Owner/Repo" // capitals: lowercased on push

	art, err := Build(ctx, buildOpts(model, bin))
	must(t, err)
	res, err := p.Push(ctx, art, image, []string{"1.2.3", "sha-0123456"})
	must(t, err)
	want, _ := art.Digest()
	if res.Digest != want || res.Repository != host+"/owner/repo" || res.Ref != host+"/owner/repo@"+want {
		t.Fatalf("result %+v, want digest %s", res, want)
	}
	if n := len(rec.uploaded()); n != 4 {
		t.Fatalf("first push uploaded %d blobs %v, want 4 (3 layers + config)", n, rec.uploaded())
	}

	rec.reset()
	art2, err := Build(ctx, buildOpts(model, bin))
	must(t, err)
	res2, err := p.Push(ctx, art2, image, []string{"1.2.3", "sha-0123456"})
	must(t, err)
	if res2.Digest != res.Digest {
		t.Fatalf("re-push digest %s, first %s", res2.Digest, res.Digest)
	}
	if up := rec.uploaded(); len(up) != 0 || rec.count("POST", "/blobs/uploads/") != 0 {
		t.Fatalf("re-push of the same inputs uploaded %v (%d upload starts)", up, rec.count("POST", "/blobs/uploads/"))
	}
}

func TestRepushWithChangedModelUploadsOnlyModelLayer(t *testing.T) {
	ctx := context.Background()
	host, rec := newRegistry(t, "", "")
	bin := writeBinary(t, "a")
	p := NewPusher()
	a1, err := Build(ctx, buildOpts(writeModel(t, 1), bin))
	must(t, err)
	_, err = p.Push(ctx, a1, host+"/owner/repo", []string{"1"})
	must(t, err)

	rec.reset()
	a2, err := Build(ctx, buildOpts(writeModel(t, 2), bin))
	must(t, err)
	_, err = p.Push(ctx, a2, host+"/owner/repo", []string{"2"})
	must(t, err)

	m, _ := a2.img.Manifest()
	want := []string{m.Config.Digest.String(), m.Layers[2].Digest.String()} // config + model layer
	got := rec.uploaded()
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("uploaded %v, want only the model layer and the config %v", got, want)
	}
}

func TestTagDigestListDelete(t *testing.T) {
	ctx := context.Background()
	host, rec := newRegistry(t, "", "")
	p := NewPusher()
	repo := host + "/owner/repo"
	art, err := Build(ctx, buildOpts(writeModel(t, 1), writeBinary(t, "a")))
	must(t, err)
	res, err := p.Push(ctx, art, repo, []string{"1.2.3"})
	must(t, err)

	rec.reset()
	must(t, p.Tag(ctx, repo+":1.2.3", res.Digest, "stable"))
	if len(rec.uploaded()) != 0 || rec.count("PUT", "/manifests/stable") != 1 {
		t.Fatalf("tagging uploaded blobs or no manifest: %v", rec.requests)
	}
	d, err := p.Digest(ctx, repo+":stable")
	must(t, err)
	if d != res.Digest {
		t.Fatalf("stable -> %s, want %s", d, res.Digest)
	}
	tags, err := p.ListTags(ctx, host+"/OWNER/repo")
	must(t, err)
	sort.Strings(tags)
	if strings.Join(tags, ",") != "1.2.3,stable" {
		t.Fatalf("tags %v", tags)
	}
	if err := p.Tag(ctx, repo, "sha256:"+strings.Repeat("0", 64), "x"); err == nil {
		t.Fatal("tagging a digest the registry lacks succeeded")
	}
	must(t, p.Delete(ctx, repo+"@"+res.Digest))
	if _, err := p.Digest(ctx, repo+"@"+res.Digest); err == nil {
		t.Fatal("digest still resolves after delete")
	}
	if tags, err := p.ListTags(ctx, host+"/never/pushed"); err != nil || len(tags) != 0 {
		t.Fatalf("unknown repository: tags %v err %v", tags, err)
	}
}

func TestVerifyAndPullModel(t *testing.T) {
	ctx := context.Background()
	host, _ := newRegistry(t, "", "")
	p := NewPusher()
	model := writeModel(t, 1)
	art, err := Build(ctx, buildOpts(model, writeBinary(t, "a")))
	must(t, err)
	res, err := p.Push(ctx, art, host+"/owner/repo", []string{"1.2.3"})
	must(t, err)

	must(t, p.Verify(ctx, host+"/owner/repo:1.2.3", res.Digest, art.Model))

	dest := t.TempDir()
	must(t, p.PullModel(ctx, res.Ref, dest))
	for _, f := range []string{WeightsFile, MetadataFile, MetricsFile, CardFile} {
		a, _ := os.ReadFile(filepath.Join(model, f))
		b, err := os.ReadFile(filepath.Join(dest, f))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("pulled %s differs (err %v)", f, err)
		}
	}

	// A tag moved to another image, and a local model that differs, fail.
	other, err := Build(ctx, buildOpts(writeModel(t, 2), writeBinary(t, "a")))
	must(t, err)
	_, err = p.Push(ctx, other, host+"/owner/repo", []string{"1.2.3"})
	must(t, err)
	if err := p.Verify(ctx, host+"/owner/repo:1.2.3", res.Digest, art.Model); err == nil || !strings.Contains(err.Error(), "not the pushed") {
		t.Fatalf("moved tag: err %v", err)
	}
	od, _ := other.Digest()
	if err := p.Verify(ctx, host+"/owner/repo:1.2.3", od, art.Model); err == nil || !strings.Contains(err.Error(), "pulled weights") {
		t.Fatalf("other weights: err %v", err)
	}
}

func TestModelPackArtifact(t *testing.T) {
	ctx := context.Background()
	host, _ := newRegistry(t, "", "")
	p := NewPusher()
	model := writeModel(t, 1)
	o := buildOpts(model, "")
	o.Format = FormatModelPack
	art, err := Build(ctx, o)
	must(t, err)
	again, err := Build(ctx, o)
	must(t, err)
	d1, _ := art.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Fatalf("modelpack not reproducible: %s vs %s", d1, d2)
	}
	res, err := p.Push(ctx, art, host+"/owner/model", []string{"1.2.3"})
	must(t, err)

	ref, _ := name.ParseReference(res.Ref)
	img, err := remote.Image(ref)
	must(t, err)
	m, err := img.Manifest()
	must(t, err)
	if m.ArtifactType != ModelPackArtifactType || string(m.Config.MediaType) != ModelPackConfigType {
		t.Fatalf("artifactType %q config %q", m.ArtifactType, m.Config.MediaType)
	}
	types := map[string]string{}
	for _, l := range m.Layers {
		types[l.Annotations[modelPackFilepath]] = string(l.MediaType)
	}
	if types[WeightsFile] != modelPackWeightRaw || types[CardFile] != modelPackDocRaw || types[MetricsFile] != modelPackDocRaw {
		t.Fatalf("layer media types %v", types)
	}
	raw, err := img.RawConfigFile()
	must(t, err)
	if !strings.Contains(string(raw), `"diffIds":["sha256:`) || !strings.Contains(string(raw), `"version":"1.2.3"`) {
		t.Errorf("config %s", raw)
	}
	must(t, p.Verify(ctx, host+"/owner/model:1.2.3", res.Digest, art.Model))
}

func TestWrongCredentialsPushNothing(t *testing.T) {
	ctx := context.Background()
	host, rec := newRegistry(t, "ci", "right")
	art, err := Build(ctx, buildOpts(writeModel(t, 1), writeBinary(t, "a")))
	must(t, err)

	bad := NewPusher(WithAuth(Auth{Username: "ci", Password: "wrong"}))
	err = bad.CheckPush(ctx, host+"/owner/repo")
	var pe *PermissionError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "log in") {
		t.Fatalf("preflight with wrong password: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("error shows the password: %v", err)
	}
	_, err = bad.Push(ctx, art, host+"/owner/repo", []string{"1"})
	if !errors.As(err, &pe) {
		t.Fatalf("push with wrong password: %v", err)
	}
	if len(rec.uploaded()) != 0 || rec.count("PUT", "/manifests/") != 0 {
		t.Fatalf("wrong credentials still uploaded: %v", rec.uploaded())
	}

	good := NewPusher(WithAuth(Auth{Username: "ci", Password: "right"}))
	must(t, good.CheckPush(ctx, host+"/owner/repo"))
	_, err = good.Push(ctx, art, host+"/owner/repo", []string{"1"})
	must(t, err)
}

func TestPermissionErrorNamesPackagesWriteOnGHCR(t *testing.T) {
	err := &PermissionError{Repository: "ghcr.io/owner/repo", Err: errors.New("denied")}
	if !strings.Contains(err.Error(), "packages: write") {
		t.Fatal(err)
	}
}

func TestGitHubTokenGoesToGHCROnly(t *testing.T) {
	kc := ghcrKeychain{actor: "octocat", token: "tok"}
	for reg, want := range map[string]string{"ghcr.io": "tok", "docker.io": "", "ghcr.io.evil.com": ""} {
		r, _ := name.NewRegistry(reg)
		a, err := kc.Resolve(r)
		must(t, err)
		cfg, _ := a.Authorization()
		if cfg.Password != want {
			t.Errorf("%s got password %q, want %q", reg, cfg.Password, want)
		}
	}
	if a, _ := kc.Resolve(mustRegistry(t, "quay.io")); a != authn.Anonymous {
		t.Error("quay.io not anonymous")
	}
}

func mustRegistry(t *testing.T, s string) name.Registry {
	r, err := name.NewRegistry(s)
	must(t, err)
	return r
}

func TestPushProgressOnWriter(t *testing.T) {
	host, _ := newRegistry(t, "", "")
	var buf bytes.Buffer
	art, err := Build(context.Background(), buildOpts(writeModel(t, 1), writeBinary(t, "a")))
	must(t, err)
	_, err = NewPusher(WithProgress(&buf)).Push(context.Background(), art, host+"/o/r", nil)
	must(t, err)
	if !strings.Contains(buf.String(), "MiB") {
		t.Fatalf("progress %q", buf.String())
	}
}
