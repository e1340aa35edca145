package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/model-release/model-release/internal/metrics"
)

var testCreated = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// writeModel makes a model folder like train writes: weights from seed,
// model.json recording their hash, metrics.json and a card.
func writeModel(t *testing.T, seed int64) string {
	t.Helper()
	dir := t.TempDir()
	w := make([]byte, 64<<10)
	rand.New(rand.NewSource(seed)).Read(w)
	must(t, os.WriteFile(filepath.Join(dir, WeightsFile), w, 0o644))
	sum := sha256.Sum256(w)
	meta, _ := json.Marshal(map[string]any{
		"architecture":   "convnet",
		"weights_sha256": hex.EncodeToString(sum[:]),
		"dataset_digest": "sha256:abc123",
		"seed":           seed,
	})
	must(t, os.WriteFile(filepath.Join(dir, MetadataFile), meta, 0o644))
	m := &metrics.Metrics{Samples: 100, Accuracy: 0.8125, Top3Accuracy: 0.95, MeanLoss: 0.6, Classes: []string{"a", "b"}}
	must(t, metrics.Write(filepath.Join(dir, MetricsFile), m))
	must(t, os.WriteFile(filepath.Join(dir, CardFile), []byte("# Model card\n"), 0o644))
	return dir
}

// writeBinary stands in for a static model-release build.
func writeBinary(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "model-release")
	must(t, os.WriteFile(p, []byte("\x7fELF fake model-release "+content+strings.Repeat("x", 4096)), 0o755))
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// recorder wraps ggcr's in-memory registry and logs every request, so
// tests can assert which blobs were uploaded.
type recorder struct {
	mu       sync.Mutex
	requests []string // "METHOD path?query"
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = nil
}

// uploaded lists the digests of completed blob uploads (the final PUT of
// the upload protocol carries ?digest=).
func (r *recorder) uploaded() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.requests {
		if strings.HasPrefix(q, "PUT ") && strings.Contains(q, "/blobs/uploads/") {
			if i := strings.Index(q, "digest="); i >= 0 {
				d := q[i+len("digest="):]
				d = strings.ReplaceAll(d, "%3A", ":")
				if j := strings.IndexByte(d, '&'); j >= 0 {
					d = d[:j]
				}
				out = append(out, d)
			}
		}
	}
	return out
}

func (r *recorder) count(method, substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.requests {
		if strings.HasPrefix(q, method+" ") && strings.Contains(q, substr) {
			n++
		}
	}
	return n
}

// newRegistry starts an in-memory registry; with user set it demands that
// basic-auth login.
func newRegistry(t testing.TB, user, password string) (host string, rec *recorder) {
	t.Helper()
	rec = &recorder{}
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec.mu.Lock()
		rec.requests = append(rec.requests, req.Method+" "+req.URL.RequestURI())
		rec.mu.Unlock()
		if user != "" {
			u, p, ok := req.BasicAuth()
			if !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		inner.ServeHTTP(w, req)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), rec
}
