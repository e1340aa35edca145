package dataset

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The canonical CIFAR-10 binary distribution and its published MD5
// (https://www.cs.toronto.edu/~kriz/cifar.html).
const (
	CanonicalURL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
	CanonicalMD5 = "c32a1d4ab5d03f1284b67883e8d87530"
)

// checksum is what a download must hash to.
type checksum struct {
	algo, hex string // "md5" or "sha256"; hex is lowercase
}

func (c checksum) newHash() hash.Hash {
	if c.algo == "md5" {
		return md5.New()
	}
	return sha256.New()
}

// Fetch downloads source ("download" for the canonical archive, or an
// http(s) URL) into the cache unless a verified copy is already there, and
// returns the cached file's path. The download resumes a partial file left
// by an interrupted run (HTTP Range), is checked against its checksum, and
// appears under its final name only when complete and verified.
func Fetch(ctx context.Context, source string, opts ...Option) (string, error) {
	if !isRemote(source) {
		return "", fmt.Errorf("cannot fetch %q: want %q or an http(s) URL", source, Download)
	}
	return fetch(ctx, source, newOptions(opts))
}

// CacheDir is where downloads go when no cache dir is given:
// $RUNNER_TOOL_CACHE/model-release/datasets in GitHub Actions (kept between
// jobs on self-hosted runners), else <user cache dir>/model-release/datasets.
func CacheDir(lookupEnv func(string) (string, bool)) (string, error) {
	if v, ok := lookupEnv("RUNNER_TOOL_CACHE"); ok && v != "" {
		return filepath.Join(v, "model-release", "datasets"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding a cache folder for downloads: %w; set --cache-dir", err)
	}
	return filepath.Join(d, "model-release", "datasets"), nil
}

// resolve turns a source into the URL to get and the checksum to expect.
func resolve(source string, o *options) (string, *checksum, error) {
	if source == Download {
		if o.md5 == "" {
			return o.url, nil, nil
		}
		return o.url, &checksum{"md5", o.md5}, nil
	}
	u, err := url.Parse(source)
	if err != nil || u.Host == "" {
		return "", nil, fmt.Errorf("dataset URL %q is not a valid http(s) URL", source)
	}
	frag := u.Fragment
	u.Fragment, u.RawFragment = "", ""
	raw := u.String()
	if raw == CanonicalURL {
		return raw, &checksum{"md5", CanonicalMD5}, nil
	}
	if frag == "" {
		return raw, nil, nil
	}
	algo, want, _ := strings.Cut(frag, "=")
	want = strings.ToLower(want)
	n := map[string]int{"md5": 32, "sha256": 64}[algo]
	if n == 0 || len(want) != n || !isHex(want) {
		return "", nil, fmt.Errorf("dataset URL %q: fragment %q is not md5=<32 hex> or sha256=<64 hex>", source, frag)
	}
	return raw, &checksum{algo, want}, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// displayURL is the URL a source stands for, for messages.
func displayURL(source string, o *options) string {
	if source == Download {
		return o.url
	}
	return source
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// cacheName is the file name of a URL in the cache: the canonical archive
// keeps its own name; other URLs get a hash prefix so two files with the
// same base name never collide.
func cacheName(raw string) string {
	if raw == CanonicalURL {
		return path.Base(raw)
	}
	base := "download"
	if u, err := url.Parse(raw); err == nil && path.Base(u.Path) != "/" && path.Base(u.Path) != "." {
		base = unsafeName.ReplaceAllString(path.Base(u.Path), "_")
	}
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:6]) + "-" + base
}

func fetch(ctx context.Context, source string, o *options) (string, error) {
	raw, sum, err := resolve(source, o)
	if err != nil {
		return "", err
	}
	dir := o.cacheDir
	if dir == "" {
		if dir, err = CacheDir(o.lookupEnv); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating cache folder: %w; set --cache-dir to a writable folder", err)
	}
	final := filepath.Join(dir, cacheName(raw))

	if _, err := os.Stat(final); err == nil {
		if sum == nil {
			o.log.Info("using cached download", "url", raw, "path", final)
			return final, nil
		}
		got, err := hashFile(final, sum)
		if err == nil && got == sum.hex {
			o.log.Info("using cached download", "url", raw, "path", final, sum.algo, got)
			return final, nil
		}
		o.log.Warn("cached download fails its checksum; downloading again", "path", final, "got", got, "want", sum.hex)
		if err := os.Remove(final); err != nil {
			return "", fmt.Errorf("removing bad cached file: %w", err)
		}
	}

	part := final + ".part"
	o.log.Info("downloading dataset", "url", raw, "to", final)
	for attempt := 1; ; attempt++ {
		err := downloadOnce(ctx, raw, part, o)
		if err == nil {
			break
		}
		var te *temporaryError
		if ctx.Err() != nil || !errors.As(err, &te) || attempt >= o.retries {
			return "", fmt.Errorf("downloading %s: %w", raw, err)
		}
		o.log.Warn("download interrupted; resuming", "url", raw, "attempt", attempt+1, "err", err)
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("downloading %s: %w", raw, ctx.Err())
		case <-time.After(o.retryDelay * time.Duration(attempt)):
		}
	}

	if sum == nil {
		o.log.Warn("no checksum known for this URL; add #sha256=<hex> or #md5=<hex> to it to verify the download", "url", raw)
	} else {
		got, err := hashFile(part, sum)
		if err != nil {
			return "", err
		}
		if got != sum.hex {
			os.Remove(part) // a bad partial would be resumed forever
			return "", fmt.Errorf("downloading %s: checksum mismatch: %s %s, want %s; the file is corrupt or not the expected one (removed it; run again, or check the URL)",
				raw, sum.algo, got, sum.hex)
		}
	}
	if err := os.Rename(part, final); err != nil {
		return "", fmt.Errorf("moving download into the cache: %w", err)
	}
	return final, nil
}

// temporaryError marks a failure worth retrying: the transfer broke or the
// server was briefly unavailable. Resuming picks up where it stopped.
type temporaryError struct{ err error }

func (e *temporaryError) Error() string { return e.err.Error() }
func (e *temporaryError) Unwrap() error { return e.err }

// downloadOnce appends to part from where it ends (or starts over when the
// server ignores Range).
func downloadOnce(ctx context.Context, raw, part string, o *options) error {
	f, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("opening %s: %w", part, err)
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := o.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("%w; no network? give --data a local folder or .tar.gz, or leave --data empty to use the embedded sample", err)
	}
	defer resp.Body.Close()

	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != have {
			f.Truncate(0)
			return &temporaryError{fmt.Errorf("server resumed at %q, not byte %d; starting over", resp.Header.Get("Content-Range"), have)}
		}
	case resp.StatusCode == http.StatusOK:
		if have > 0 {
			o.log.Info("server does not resume downloads; starting over", "had", have)
		}
		if err := f.Truncate(0); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		have = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		return nil // already complete; the checksum decides
	default:
		err := fmt.Errorf("server answered %s", resp.Status)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return &temporaryError{err}
		}
		return err
	}

	total := int64(-1)
	if resp.ContentLength >= 0 {
		total = have + resp.ContentLength
	}
	p := newProgress(o, raw, have, total)
	n, err := io.Copy(f, io.TeeReader(resp.Body, p))
	p.done()
	if serr := f.Sync(); err == nil && serr != nil {
		return serr
	}
	if err == nil && total >= 0 && have+n < total {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &temporaryError{fmt.Errorf("transfer interrupted after %d of %s bytes (kept %s to resume): %w", have+n, sizeText(total), part, err)}
	}
	return f.Close()
}

func sizeText(n int64) string {
	if n < 0 {
		return "unknown"
	}
	return strconv.FormatInt(n, 10)
}

// rangeStart parses "bytes START-END/TOTAL".
func rangeStart(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	s, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func hashFile(p string, sum *checksum) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("verifying %s: %w", p, err)
	}
	defer f.Close()
	h := sum.newHash()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("verifying %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
