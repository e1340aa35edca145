package dataset

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	modelrelease "github.com/model-release/model-release"
)

// Download is the source name that means the canonical CIFAR-10 archive.
const Download = "download"

// Option adjusts Load and Fetch.
type Option func(*options)

type options struct {
	log       *slog.Logger
	cacheDir  string
	client    *http.Client
	url, md5  string // what "download" fetches
	progress  io.Writer
	tty       *bool // nil: detect
	lookupEnv func(string) (string, bool)
	retries   int
	// retryDelay is the pause before the first retry (doubled, tripled...).
	retryDelay time.Duration
}

func newOptions(opts []Option) *options {
	o := &options{
		log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		client:     http.DefaultClient,
		url:        CanonicalURL,
		md5:        CanonicalMD5,
		lookupEnv:  os.LookupEnv,
		retries:    3,
		retryDelay: time.Second,
	}
	for _, f := range opts {
		f(o)
	}
	return o
}

// WithLogger sends progress and notices (which source is used, download
// progress when not on a terminal) to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithCacheDir sets where downloads are cached (default: see CacheDir).
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// WithHTTPClient sets the client used for downloads.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithDownloadURL changes what "download" fetches and the MD5 it must have
// (tests point it at a local server; mirrors of the canonical archive).
func WithDownloadURL(url, md5hex string) Option {
	return func(o *options) { o.url, o.md5 = url, strings.ToLower(md5hex) }
}

// WithProgress draws a download progress bar on w when w is a terminal
// (forced on or off by tty when not nil); otherwise progress goes to the
// logger as a line every 10%.
func WithProgress(w io.Writer, tty *bool) Option {
	return func(o *options) { o.progress, o.tty = w, tty }
}

// WithLookupEnv sets how the environment is read (RUNNER_TOOL_CACHE,
// GITHUB_ACTIONS); tests inject a fake.
func WithLookupEnv(f func(string) (string, bool)) Option {
	return func(o *options) { o.lookupEnv = f }
}

// Load reads a dataset from source:
//
//   - "": the embedded sample (see Sample), logged as such;
//   - "download": the canonical CIFAR-10 binary archive, downloaded once,
//     checked against its MD5, and cached (see Fetch);
//   - an http(s) URL of a .tar.gz in either layout, downloaded and cached the
//     same way; a #md5=<hex> or #sha256=<hex> fragment is checked;
//   - a folder or a .tar.gz / .tgz / .tar file holding either the binary
//     layout (data_batch_N.bin, test_batch.bin, batches.meta.txt, in any one
//     folder such as cifar-10-batches-bin/) or an image tree
//     <split>/<class>/*.{jpg,jpeg,png} with split train (required) and test.
//
// Any bad file is an error naming it; nothing is ever half loaded.
func Load(ctx context.Context, source string, opts ...Option) (*Dataset, error) {
	o := newOptions(opts)
	if source == "" {
		d, err := Sample()
		if err == nil {
			o.log.Info("no dataset given (--data); using the embedded CIFAR-10 sample",
				"train", d.Train.Len(), "test", d.Test.Len())
		}
		return d, err
	}
	if isRemote(source) {
		p, err := fetch(ctx, source, o)
		if err != nil {
			return nil, err
		}
		d, err := LoadPath(ctx, p)
		if err != nil {
			return nil, err
		}
		d.Source = fmt.Sprintf("%s (cached at %s)", displayURL(source, o), p)
		return d, nil
	}
	return LoadPath(ctx, source)
}

// isRemote reports whether source names a download rather than a path.
func isRemote(source string) bool {
	return source == Download || strings.HasPrefix(source, "https://") || strings.HasPrefix(source, "http://")
}

// LoadPath reads a local folder or archive (see Load).
func LoadPath(ctx context.Context, p string) (*Dataset, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("dataset %q: %w; give a folder, a .tar.gz, \"download\", a URL, or nothing for the embedded sample", p, err)
	}
	var src source
	if st.IsDir() {
		if src, err = newFSSource(os.DirFS(p), filepath.Clean(p)); err != nil {
			return nil, err
		}
	} else {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("opening dataset: %w", err)
		}
		defer f.Close()
		if src, err = readArchive(f, p); err != nil {
			return nil, err
		}
	}
	return loadSource(ctx, src)
}

// LoadFS reads a dataset from an fs.FS (label names it in errors).
func LoadFS(ctx context.Context, fsys fs.FS, label string) (*Dataset, error) {
	src, err := newFSSource(fsys, label)
	if err != nil {
		return nil, err
	}
	return loadSource(ctx, src)
}

// LoadArchive reads a tar or tar.gz stream (label names it in errors).
func LoadArchive(ctx context.Context, r io.Reader, label string) (*Dataset, error) {
	src, err := readArchive(r, label)
	if err != nil {
		return nil, err
	}
	return loadSource(ctx, src)
}

// loadSource picks the layout: binary when any batch file is present,
// the image tree otherwise.
func loadSource(ctx context.Context, src source) (*Dataset, error) {
	files, dirs := src.list()
	var (
		d   *Dataset
		err error
	)
	binary := false
	for _, f := range files {
		if isBinaryFile(f) {
			binary = true
			break
		}
	}
	if binary {
		d, err = loadBinary(src, files)
		if err == nil {
			d.Source = src.where(binaryDir(files)) + " (CIFAR-10 binary batches)"
		}
	} else {
		d, err = loadImageFolder(ctx, src, files, dirs)
		if err == nil {
			d.Source = src.where(".") + " (image folders)"
		}
	}
	if err != nil {
		return nil, err
	}
	if err := d.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", src.where("."), err)
	}
	return d, nil
}

// Sample loads the CIFAR-10 sample embedded in the binary: 50 train and 10
// test images per class, real images from CIFAR-10's training set. Each call
// returns a fresh copy, so callers may shuffle it.
func Sample() (*Dataset, error) {
	sub, err := fs.Sub(modelrelease.SampleFS, modelrelease.SampleRoot)
	if err != nil {
		return nil, fmt.Errorf("embedded sample: %w", err)
	}
	d, err := LoadFS(context.Background(), sub, "embedded sample")
	if err != nil {
		return nil, err
	}
	d.Source = fmt.Sprintf("embedded sample (%d train, %d test images)", d.Train.Len(), d.Test.Len())
	return d, nil
}
