// Package serve answers predictions from one loaded model over HTTP:
// POST /v1/predict, GET /v1/model, /healthz, /readyz and Prometheus
// /metrics. It knows the model only through the small Predictor interface,
// so it can be tested with a deterministic fake and does not import the
// network code.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"
)

// Predictor classifies raw images: n CHW uint8 32x32 records in, n rows of
// per-class softmax probabilities out. It must be safe for concurrent use.
type Predictor interface {
	Predict(images []uint8, n int) ([]float32, error)
}

// Model is what the server serves: the predictor and what it says about
// itself.
type Model struct {
	Predictor Predictor
	Classes   []string // index order of the predictor's output
	Version   string   // release version, e.g. v1.4.0; empty when unreleased
	Metadata  any      // JSON-able description returned by GET /v1/model
	Metrics   any      // JSON-able evaluation metrics, or nil
}

// Loader loads the model; Serve runs it in the background so the server
// listens (and answers /healthz) at once.
type Loader func(ctx context.Context) (*Model, error)

// Defaults of the limits; each has an Option.
const (
	DefaultMaxBodyBytes    = 8 << 20
	DefaultMaxImages       = 64
	DefaultTopK            = 3
	DefaultReadTimeout     = 30 * time.Second
	DefaultWriteTimeout    = 60 * time.Second
	DefaultIdleTimeout     = 120 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
)

// Server is an HTTP prediction server for one model.
type Server struct {
	maxBody         int64
	maxImages       int
	workers         int
	readTimeout     time.Duration
	writeTimeout    time.Duration
	idleTimeout     time.Duration
	shutdownTimeout time.Duration
	log             *slog.Logger

	model   atomic.Pointer[Model]
	slots   chan struct{} // a token per inference worker
	tel     *telemetry
	handler http.Handler
}

// Option configures a Server.
type Option func(*Server)

// WithMaxBodyBytes bounds the request body; larger bodies get 413.
func WithMaxBodyBytes(n int64) Option { return func(s *Server) { s.maxBody = n } }

// WithMaxImages bounds the images in one JSON batch; more get 413.
func WithMaxImages(n int) Option { return func(s *Server) { s.maxImages = n } }

// WithWorkers sets how many requests decode and predict at once (default,
// and for n < 1: the number of usable CPUs); the others wait for a free
// worker.
func WithWorkers(n int) Option { return func(s *Server) { s.workers = n } }

// WithTimeouts sets the HTTP read, write and keep-alive idle timeouts.
func WithTimeouts(read, write, idle time.Duration) Option {
	return func(s *Server) { s.readTimeout, s.writeTimeout, s.idleTimeout = read, write, idle }
}

// WithShutdownTimeout bounds how long Serve waits for in-flight requests
// after its context is cancelled.
func WithShutdownTimeout(d time.Duration) Option { return func(s *Server) { s.shutdownTimeout = d } }

// WithLogger sets the logger for load progress and server errors.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// New returns a server with no model yet: /readyz and /v1/predict answer
// 503 until SetModel (or Serve's loader) provides one.
func New(opts ...Option) *Server {
	s := &Server{
		maxBody:         DefaultMaxBodyBytes,
		maxImages:       DefaultMaxImages,
		workers:         runtime.GOMAXPROCS(0),
		readTimeout:     DefaultReadTimeout,
		writeTimeout:    DefaultWriteTimeout,
		idleTimeout:     DefaultIdleTimeout,
		shutdownTimeout: DefaultShutdownTimeout,
		log:             slog.New(slog.DiscardHandler),
		tel:             newTelemetry(),
	}
	for _, o := range opts {
		o(s)
	}
	if s.workers < 1 {
		s.workers = runtime.GOMAXPROCS(0)
	}
	if s.maxImages < 1 {
		s.maxImages = 1
	}
	if s.maxBody < 1 {
		s.maxBody = DefaultMaxBodyBytes
	}
	s.slots = make(chan struct{}, s.workers)
	s.handler = s.routes()
	return s
}

// SetModel makes m the served model; the server is ready from then on.
func (s *Server) SetModel(m *Model) error {
	if m == nil || m.Predictor == nil {
		return errors.New("serving a model: it has no predictor")
	}
	if len(m.Classes) == 0 {
		return errors.New("serving a model: it names no classes")
	}
	s.model.Store(m)
	return nil
}

// Ready reports whether a model is loaded.
func (s *Server) Ready() bool { return s.model.Load() != nil }

// Handler returns the HTTP handler of every route, for tests and for
// embedding in another server.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers requests on ln until ctx is cancelled, then stops accepting
// connections and waits (up to the shutdown timeout) for in-flight requests
// to finish. When load is not nil it runs in the background; if it fails,
// the server shuts down and Serve returns its error.
func (s *Server) Serve(ctx context.Context, ln net.Listener, load Loader) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: min(s.readTimeout, 10*time.Second),
		ReadTimeout:       s.readTimeout,
		WriteTimeout:      s.writeTimeout,
		IdleTimeout:       s.idleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// Requests deliberately do not inherit ctx: cancelling it starts a
		// graceful shutdown in which in-flight requests still complete.
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loadErr := make(chan error, 1)
	if load != nil {
		go func() {
			start := time.Now()
			m, err := load(ctx)
			if err == nil {
				err = s.SetModel(m)
			}
			if err != nil {
				loadErr <- fmt.Errorf("loading the model: %w", err)
				cancel()
				return
			}
			s.log.Info("model loaded", "version", m.Version, "classes", len(m.Classes), "seconds", time.Since(start).Seconds())
		}()
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String(), "workers", s.workers, "max_body_bytes", s.maxBody, "max_images", s.maxImages)

	select {
	case err := <-served:
		// The listener failed; nothing is in flight to wait for.
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	s.log.Info("shutting down: waiting for in-flight requests", "timeout", s.shutdownTimeout.String())
	sctx, scancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
	defer scancel()
	shutErr := srv.Shutdown(sctx)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		shutErr = errors.Join(shutErr, err)
	}
	select {
	case err := <-loadErr:
		return errors.Join(err, shutErr)
	default:
	}
	if shutErr != nil {
		return fmt.Errorf("shutting down: requests still running after %s were cut off: %w", s.shutdownTimeout, shutErr)
	}
	return nil
}

// ListenAndServe listens on addr (e.g. ":8080") and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string, load Loader) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %q: %w", addr, err)
	}
	return s.Serve(ctx, ln, load)
}
