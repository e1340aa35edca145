package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/exitcode"
	"github.com/model-release/model-release/internal/registry"
)

// pushFlags are the push options that only make sense on a command line.
type pushFlags struct {
	tags          []string
	platformBins  map[string]string
	ociLayout     string
	tarball       string
	pr            int
	revision      string
	created       string
	gateVerdict   string
	verify        bool
	skipPreflight bool
}

func newPushCmd(a *app) *cobra.Command {
	var fl config.Flags
	var pf pushFlags
	cmd := &cobra.Command{
		Use:   "push --model DIR --image REPO",
		Short: "Package a model folder as an OCI image (or ModelPack artifact) and push it",
		Long: `push builds the model image without a Docker daemon: a base (none by
default), the model-release binary at /usr/local/bin/model-release and the
model folder at /model/, serving it on port 8080. The same model, binary,
base and --created give the same digest, so a re-run uploads nothing.

Tags default to the version (v1.2.3+meta is tagged 1.2.3_meta: "+" is not
allowed in tags), sha-<7 hex> of --revision and pr-<N> for pull requests.
With --dry-run, --oci-layout or --tarball nothing is pushed: the image is
written locally (if asked) and the digest it would have is printed.

The digest goes to stdout; logs and progress go to stderr.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig(&fl)
			if err != nil {
				return err
			}
			return a.push(cmd, cfg, pf)
		},
	}
	// --binary is the binary option, so MODEL_RELEASE_BINARY and the
	// config file set it here as for run.
	fl.Bind(cmd.Flags(), "config", "model", "image", "registry", "repository", "base", "format", "binary", "version", "dry-run",
		"github-token", "registry-username", "registry-password")
	f := cmd.Flags()
	f.StringSliceVar(&pf.tags, "tag", nil, "tag to push (repeatable; default: version, sha-<commit>, pr-<N>)")
	f.StringToStringVar(&pf.platformBins, "platform-binary", nil, "binary per platform for a multi-platform base, e.g. linux/arm64=dist/model-release-arm64")
	f.StringVar(&pf.ociLayout, "oci-layout", "", "write the image into this OCI layout folder instead of pushing")
	f.StringVar(&pf.tarball, "tarball", "", "write the image as a docker-load tarball instead of pushing")
	f.IntVar(&pf.pr, "pr", 0, "pull request number, tagged pr-<N> (default: from GITHUB_REF)")
	f.StringVar(&pf.revision, "revision", "", "commit SHA for labels and the sha- tag (default: GITHUB_SHA)")
	f.StringVar(&pf.created, "created", "", "image creation time, RFC 3339 or Unix seconds: use the commit time (default: SOURCE_DATE_EPOCH, else 1970-01-01)")
	f.StringVar(&pf.gateVerdict, "gate-verdict", "", "gate verdict recorded in the io.github.model-release.gate label")
	f.BoolVar(&pf.verify, "verify", true, "after the push, fetch the manifest by tag and check the digest and the weights' SHA-256")
	f.BoolVar(&pf.skipPreflight, "skip-preflight", false, "do not check push permission before building")
	return cmd
}

func (a *app) push(cmd *cobra.Command, cfg config.Config, pf pushFlags) error {
	ctx := cmd.Context()
	if cfg.Model == "" {
		return exitcode.AsUsage(errors.New("--model is required: the model folder written by train (model.safetensors, model.json, metrics.json)"))
	}
	env := func(k string) string { v, _ := a.lookupEnv(k); return v }
	if cfg.Repository == "" {
		cfg.Repository = env("GITHUB_REPOSITORY")
	}
	image := cfg.Image
	if image == "" {
		if cfg.Repository == "" {
			return exitcode.AsUsage(errors.New("--image is required (or --repository / GITHUB_REPOSITORY to push to <registry>/<repository>)"))
		}
		image = cfg.Registry + "/" + cfg.Repository
	}
	repo, err := registry.Repository(image)
	if err != nil {
		return exitcode.AsUsage(fmt.Errorf("--image: %w", err))
	}
	meta, err := pushMetadata(cfg, pf, env)
	if err != nil {
		return exitcode.AsUsage(err)
	}
	tags := pf.tags
	if len(tags) == 0 {
		pr := pf.pr
		if pr == 0 {
			pr = prFromRef(env("GITHUB_REF"))
		}
		ts := registry.TagSet{Version: cfg.Version, PR: pr}
		if len(meta.Revision) >= 7 {
			ts.Commit = meta.Revision
		}
		if tags, err = registry.Tags(ts); err != nil {
			return exitcode.AsUsage(err)
		}
		if len(tags) == 0 {
			tags = []string{"latest"}
		}
	} else if tags, err = registry.Tags(registry.TagSet{Extra: pf.tags}); err != nil {
		return exitcode.AsUsage(fmt.Errorf("--tag: %w", err))
	}

	opts := []registry.Option{registry.WithLogger(a.log)}
	switch {
	case cfg.RegistryUsername != "":
		if cfg.RegistryPassword == "" {
			return exitcode.AsUsage(errors.New("--registry-username needs a password: set MODEL_RELEASE_REGISTRY_PASSWORD"))
		}
		opts = append(opts, registry.WithAuth(registry.Auth{Username: cfg.RegistryUsername, Password: cfg.RegistryPassword}))
	default:
		token := cfg.GitHubToken
		if token == "" {
			token = env("GITHUB_TOKEN")
		}
		if token != "" {
			opts = append(opts, registry.WithGitHubToken(env("GITHUB_ACTOR"), token))
		}
	}
	if env("GITHUB_ACTIONS") != "true" && isTerminal(a.stderr) {
		opts = append(opts, registry.WithProgress(a.stderr))
	}
	local := pf.ociLayout != "" || pf.tarball != ""
	pusher := registry.NewPusher(opts...)
	if !cfg.DryRun && !local && !pf.skipPreflight {
		if err := pusher.CheckPush(ctx, repo); err != nil {
			return err
		}
	}

	bo := registry.BuildOptions{ModelDir: cfg.Model, Format: cfg.Format, Base: cfg.Base, Binary: cfg.Binary, Binaries: pf.platformBins, Meta: meta}
	art, err := registry.Build(ctx, bo, opts...)
	if err != nil {
		return err
	}
	if len(art.Skipped) > 0 {
		a.log.Warn("base platforms without a binary were left out", "skipped", strings.Join(art.Skipped, ","), "built", strings.Join(art.Platforms, ","))
	}
	if total, weights, err := art.Sizes(); err == nil {
		a.log.Info("built", "format", art.Format, "platforms", strings.Join(art.Platforms, ","), "bytes", total, "weights_bytes", weights, "overhead_bytes", total-weights)
	}
	if pf.ociLayout != "" {
		if err := registry.WriteLayout(art, pf.ociLayout, tags[0]); err != nil {
			return err
		}
		a.log.Info("wrote OCI layout", "dir", pf.ociLayout, "tag", tags[0])
	}
	if pf.tarball != "" {
		if err := registry.WriteTarball(art, pf.tarball, repo+":"+tags[0]); err != nil {
			return err
		}
		a.log.Info("wrote tarball", "file", pf.tarball, "ref", repo+":"+tags[0])
	}
	if cfg.DryRun || local {
		res, err := registry.NopPusher{Log: a.log}.Push(ctx, art, repo, tags)
		if err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, res.Digest)
		return nil
	}
	res, err := pusher.Push(ctx, art, repo, tags)
	if err != nil {
		return err
	}
	if pf.verify {
		if err := pusher.Verify(ctx, res.Repository+":"+tags[0], res.Digest, art.Model); err != nil {
			return err
		}
	}
	fmt.Fprintln(a.stdout, res.Digest)
	return nil
}

// pushMetadata gathers the label inputs from flags, config and the
// Actions environment.
func pushMetadata(cfg config.Config, pf pushFlags, env func(string) string) (registry.Metadata, error) {
	m := registry.Metadata{Version: strings.TrimPrefix(cfg.Version, "v"), Revision: pf.revision, Gate: pf.gateVerdict, Licenses: ""}
	if m.Revision == "" {
		m.Revision = env("GITHUB_SHA")
	}
	if cfg.Repository != "" {
		server := env("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		m.Source = strings.TrimSuffix(server, "/") + "/" + cfg.Repository
		m.URL = m.Source
		m.Title = cfg.Repository[strings.LastIndex(cfg.Repository, "/")+1:]
	}
	m.Description = "CIFAR-10 classifier served by model-release"
	created := pf.created
	if created == "" {
		created = env("SOURCE_DATE_EPOCH")
	}
	if created != "" {
		t, err := parseCreated(created)
		if err != nil {
			return m, err
		}
		m.Created = t
	}
	return m, nil
}

func parseCreated(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--created %q is not RFC 3339 (2025-01-02T15:04:05Z) or Unix seconds", s)
	}
	return t, nil
}

// prFromRef reads N from refs/pull/N/merge.
func prFromRef(ref string) int {
	rest, ok := strings.CutPrefix(ref, "refs/pull/")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(strings.SplitN(rest, "/", 2)[0])
	return n
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
