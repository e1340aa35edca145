package registry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Auth is an explicit registry login.
type Auth struct {
	Username string
	Password string // a token or password; never logged
}

// Option configures a Pusher (and how Build pulls a remote base).
type Option func(*settings)

type settings struct {
	auth          *Auth
	ghActor       string
	ghToken       string
	transport     http.RoundTripper
	log           *slog.Logger
	progress      io.Writer
	jobs          int
	defaultDomain string
}

// WithAuth logs in with a username and password for every registry.
// Without it the GitHub token (for ghcr.io) and then the Docker config
// keychain (~/.docker/config.json, credential helpers) are used.
func WithAuth(a Auth) Option { return func(s *settings) { s.auth = &a } }

// WithGitHubToken logs in to ghcr.io only as actor with token, the way an
// Actions workflow does with GITHUB_ACTOR and GITHUB_TOKEN.
func WithGitHubToken(actor, token string) Option {
	return func(s *settings) { s.ghActor, s.ghToken = actor, token }
}

// WithTransport replaces the HTTP transport (tests, proxies). Requests
// still go through ggcr's retry of temporary errors.
func WithTransport(rt http.RoundTripper) Option { return func(s *settings) { s.transport = rt } }

// WithLogger sends progress and decisions to l.
func WithLogger(l *slog.Logger) Option { return func(s *settings) { s.log = l } }

// WithProgress writes upload progress (bytes) to w; give it a terminal
// only, CI logs get one line per push from the logger instead.
func WithProgress(w io.Writer) Option { return func(s *settings) { s.progress = w } }

// WithJobs sets how many blobs upload at once (default 4).
func WithJobs(n int) Option { return func(s *settings) { s.jobs = n } }

func newSettings(opts []Option) *settings {
	s := &settings{transport: remote.DefaultTransport, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(s)
	}
	return s
}

// keychain picks credentials: explicit login, then the GitHub token for
// ghcr.io, then the Docker config.
func (s *settings) keychain() authn.Keychain {
	if s.auth != nil {
		return staticKeychain{authn.FromConfig(authn.AuthConfig{Username: s.auth.Username, Password: s.auth.Password})}
	}
	if s.ghToken != "" {
		return authn.NewMultiKeychain(ghcrKeychain{actor: s.ghActor, token: s.ghToken}, authn.DefaultKeychain)
	}
	return authn.DefaultKeychain
}

func (s *settings) remoteOptions(ctx context.Context) []remote.Option {
	o := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(s.keychain()),
		remote.WithTransport(s.transport),
		remote.WithUserAgent("model-release"),
	}
	if s.jobs > 0 {
		o = append(o, remote.WithJobs(s.jobs))
	}
	return o
}

type staticKeychain struct{ a authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }

// ghcrKeychain answers for ghcr.io only: the workflow token must never be
// sent to another registry.
type ghcrKeychain struct{ actor, token string }

func (k ghcrKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if strings.EqualFold(r.RegistryStr(), "ghcr.io") {
		user := k.actor
		if user == "" {
			user = "github-actions" // GHCR checks the token, not the name
		}
		return authn.FromConfig(authn.AuthConfig{Username: user, Password: k.token}), nil
	}
	return authn.Anonymous, nil
}
