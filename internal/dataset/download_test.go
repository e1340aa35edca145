package dataset

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// archiveServer serves one file, honouring Range, and records requests.
// cut > 0 makes the first response stop after cut bytes (a dropped
// connection).
type archiveServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	cut    int
	ranges []string // Range header of each request ("" when none)
}

func newArchiveServer(t *testing.T, body []byte, cut int) *archiveServer {
	s := &archiveServer{body: body, cut: cut}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.ranges = append(s.ranges, r.Header.Get("Range"))
		first := len(s.ranges) == 1
		s.mu.Unlock()
		if r.URL.Path != "/cifar-10-binary.tar.gz" {
			http.NotFound(w, r)
			return
		}
		if first && s.cut > 0 {
			// Promise the whole file, send part of it, drop the connection.
			w.Header().Set("Content-Length", fmt.Sprint(len(s.body)))
			w.WriteHeader(http.StatusOK)
			w.Write(s.body[:s.cut])
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
				}
			}
			return
		}
		http.ServeContent(w, r, "cifar-10-binary.tar.gz", time.Time{}, bytes.NewReader(s.body))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *archiveServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...)
}

func (s *archiveServer) url() string { return s.URL + "/cifar-10-binary.tar.gz" }

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// binArchive is the sample in the layout of the real cifar-10-binary.tar.gz.
func binArchive(t *testing.T) []byte {
	return tarOf(t, treeFromDir(t, filepath.Join(sampleBinDir, "cifar-10-batches-bin"), 0), "cifar-10-batches-bin", true)
}

func testOpts(t *testing.T, extra ...Option) []Option {
	return append([]Option{
		WithCacheDir(t.TempDir()),
		WithLogger(slog.New(slog.NewTextHandler(testWriter{t}, nil))),
		func(o *options) { o.retryDelay = time.Millisecond },
	}, extra...)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func TestDownloadVerifiesCachesAndLoads(t *testing.T) {
	body := binArchive(t)
	srv := newArchiveServer(t, body, 0)
	var bar bytes.Buffer
	tty := true
	opts := testOpts(t, WithDownloadURL(srv.url(), md5hex(body)), WithProgress(&bar, &tty))

	d, err := Load(context.Background(), Download, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest() != mustSample(t).Digest() {
		t.Error("downloaded dataset differs from the archive's content")
	}
	if !strings.Contains(d.Source, srv.url()) {
		t.Errorf("source %q does not name the URL", d.Source)
	}
	if !strings.Contains(bar.String(), "100%") {
		t.Errorf("no progress bar drawn on a terminal: %q", bar.String())
	}
	p, err := Fetch(context.Background(), Download, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.requests(); len(got) != 1 {
		t.Errorf("server saw %d requests, want 1 (the second fetch must use the cache)", len(got))
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, body) {
		t.Errorf("cached file %s differs from the served archive", p)
	}
	if _, err := os.Stat(p + ".part"); !os.IsNotExist(err) {
		t.Errorf("partial file left behind: %v", err)
	}
}

func TestDownloadChecksumMismatchKeepsNothing(t *testing.T) {
	body := binArchive(t)
	srv := newArchiveServer(t, body, 0)
	cache := t.TempDir()
	wrong := md5hex([]byte("something else"))
	_, err := Fetch(context.Background(), Download, testOpts(t, WithCacheDir(cache), WithDownloadURL(srv.url(), wrong))...)
	if err == nil {
		t.Fatal("a download with the wrong MD5 was accepted")
	}
	for _, w := range []string{"checksum mismatch", md5hex(body), wrong, srv.url()} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if left, _ := os.ReadDir(cache); len(left) != 0 {
		t.Errorf("cache holds %v after a failed download, want nothing", left)
	}
}

func TestDownloadOfCorruptArchiveFailsToLoad(t *testing.T) {
	body := binArchive(t)
	body = body[:len(body)/2] // a truncated upload, published with its own MD5
	srv := newArchiveServer(t, body, 0)
	_, err := Load(context.Background(), Download, testOpts(t, WithDownloadURL(srv.url(), md5hex(body)))...)
	if err == nil || !strings.Contains(err.Error(), "cifar-10-binary.tar.gz") {
		t.Fatalf("error %v, want one naming the archive", err)
	}
}

func TestDownloadResumesAfterInterruption(t *testing.T) {
	body := binArchive(t)
	cut := len(body) / 3

	t.Run("next run", func(t *testing.T) {
		srv := newArchiveServer(t, body, cut)
		cache := t.TempDir()
		opts := testOpts(t, WithCacheDir(cache), WithDownloadURL(srv.url(), md5hex(body)), func(o *options) { o.retries = 1 })
		_, err := Fetch(context.Background(), Download, opts...)
		if err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Fatalf("first run: error %v, want an interrupted transfer", err)
		}
		part := filepath.Join(cache, cacheName(srv.url())) + ".part"
		if st, err := os.Stat(part); err != nil || st.Size() != int64(cut) {
			t.Fatalf("partial file after interruption: %v, %v; want %d bytes", st, err, cut)
		}
		if _, err := os.Stat(strings.TrimSuffix(part, ".part")); !os.IsNotExist(err) {
			t.Fatal("the final name exists after an interrupted download")
		}
		p, err := Fetch(context.Background(), Download, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); !bytes.Equal(b, body) {
			t.Error("resumed file differs from the archive")
		}
		if got := srv.requests(); len(got) != 2 || got[1] != fmt.Sprintf("bytes=%d-", cut) {
			t.Errorf("requests' Range headers %q, want a second request for bytes=%d-", got, cut)
		}
	})

	t.Run("same run", func(t *testing.T) {
		srv := newArchiveServer(t, body, cut)
		d, err := Load(context.Background(), Download, testOpts(t, WithDownloadURL(srv.url(), md5hex(body)))...)
		if err != nil {
			t.Fatal(err)
		}
		if d.Train.Len() != 500 {
			t.Errorf("loaded %d images after resuming, want 500", d.Train.Len())
		}
		if got := srv.requests(); len(got) != 2 || got[1] != fmt.Sprintf("bytes=%d-", cut) {
			t.Errorf("requests' Range headers %q, want a retry for bytes=%d-", got, cut)
		}
	})
}

func TestDownloadStartsOverWhenServerIgnoresRange(t *testing.T) {
	body := binArchive(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	cache := t.TempDir()
	u := srv.URL + "/x.tar.gz"
	part := filepath.Join(cache, cacheName(u)) + ".part"
	if err := os.WriteFile(part, []byte("stale partial bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Fetch(context.Background(), u+"#md5="+md5hex(body), testOpts(t, WithCacheDir(cache))...)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, body) {
		t.Error("a 200 answer to a Range request was appended to the stale partial")
	}
}

func TestDownloadURLFragmentChecksum(t *testing.T) {
	body := binArchive(t)
	srv := newArchiveServer(t, body, 0)
	sum := sha256.Sum256(body)
	good := srv.url() + "#sha256=" + hex.EncodeToString(sum[:])
	if _, err := Load(context.Background(), good, testOpts(t)...); err != nil {
		t.Fatalf("URL with the right sha256: %v", err)
	}
	bad := srv.url() + "#sha256=" + strings.Repeat("0", 64)
	if _, err := Load(context.Background(), bad, testOpts(t)...); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("URL with a wrong sha256: error %v, want a checksum mismatch", err)
	}
	if _, err := Load(context.Background(), srv.url()+"#sha1=abc", testOpts(t)...); err == nil {
		t.Fatal("accepted an unknown checksum kind")
	}
}

func TestDownloadErrorsAreClear(t *testing.T) {
	t.Run("no network", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL + "/cifar-10-binary.tar.gz"
		srv.Close() // nothing listens there now
		_, err := Load(context.Background(), Download, testOpts(t, WithDownloadURL(u, CanonicalMD5))...)
		if err == nil {
			t.Fatal("no error without a server")
		}
		for _, w := range []string{u, "--data", "embedded sample"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	})
	t.Run("404 is not retried", func(t *testing.T) {
		srv := newArchiveServer(t, nil, 0)
		_, err := Fetch(context.Background(), srv.URL+"/missing.tar.gz", testOpts(t)...)
		if err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("error %v, want the 404", err)
		}
		if n := len(srv.requests()); n != 1 {
			t.Errorf("%d requests for a 404, want 1", n)
		}
	})
	t.Run("not a URL", func(t *testing.T) {
		if _, err := Fetch(context.Background(), "some/folder"); err == nil {
			t.Fatal("fetched a local path")
		}
	})
}

func TestCacheDirPrefersRunnerToolCache(t *testing.T) {
	env := func(k string) (string, bool) {
		if k == "RUNNER_TOOL_CACHE" {
			return "/opt/hostedtoolcache", true
		}
		return "", false
	}
	got, err := CacheDir(env)
	if err != nil || got != filepath.Join("/opt/hostedtoolcache", "model-release", "datasets") {
		t.Errorf("CacheDir = %q, %v", got, err)
	}
	if cacheName(CanonicalURL) != "cifar-10-binary.tar.gz" {
		t.Errorf("canonical archive cached as %q", cacheName(CanonicalURL))
	}
	if a, b := cacheName("https://a.example/x.tar.gz"), cacheName("https://b.example/x.tar.gz"); a == b {
		t.Errorf("two URLs share the cache name %q", a)
	}
}

func TestProgressLinesOffTerminal(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(body))
	}))
	defer srv.Close()
	var logs, bar bytes.Buffer
	_, err := Fetch(context.Background(), srv.URL+"/f.tar.gz", WithCacheDir(t.TempDir()),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), WithProgress(&bar, nil))
	if err != nil {
		t.Fatal(err)
	}
	if bar.Len() != 0 {
		t.Errorf("drew a progress bar on a non-terminal: %q", bar.String())
	}
	if !strings.Contains(logs.String(), "done=50%") {
		t.Errorf("no progress lines in the log: %s", logs.String())
	}
}
