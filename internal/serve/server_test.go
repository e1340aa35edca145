package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestServer(t *testing.T, f *fakePredictor, opts ...Option) (*Server, *httptest.Server) {
	t.Helper()
	s := New(opts...)
	if f != nil {
		if err := s.SetModel(&Model{Predictor: f, Classes: testClasses, Version: "v1.2.3", Metadata: map[string]any{"architecture": "convnet"}, Metrics: map[string]any{"accuracy": 0.5}}); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

func post(t *testing.T, url, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, req)
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func decodePredict(t *testing.T, b []byte) PredictResponse {
	t.Helper()
	var r PredictResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("response %s is not a prediction: %v", b, err)
	}
	return r
}

func TestPredictSingleImage(t *testing.T) {
	f := &fakePredictor{}
	_, ts := newTestServer(t, f)
	for _, tc := range []struct {
		name, ct string
		body     []byte
		red      uint8
	}{
		{"png", "image/png", pngBytes(t, solid(32, 32, color.RGBA{90, 10, 200, 255})), 90},
		{"jpeg", "image/jpeg", jpegBytes(t, solid(32, 32, color.RGBA{192, 30, 30, 255})), 192},
		{"png larger, resized", "image/png", pngBytes(t, solid(100, 60, color.RGBA{243, 0, 0, 255})), 243},
		{"gray png smaller, resized", "image/png; charset=binary", pngBytes(t, solid(7, 9, color.Gray{13})), 13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, ts.URL+"/v1/predict", tc.ct, tc.body)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			r := decodePredict(t, body)
			want := classOfRed(tc.red)
			if r.ModelVersion != "v1.2.3" || len(r.Predictions) != 1 {
				t.Fatalf("got %+v, want version v1.2.3 and one prediction", r)
			}
			p := r.Predictions[0]
			if p.ClassIndex != want || p.Class != testClasses[want] || p.Probability != 0.55 {
				t.Errorf("prediction %+v, want class %d (%s) at 0.55", p, want, testClasses[want])
			}
			if len(p.TopK) != DefaultTopK || p.TopK[0].Class != testClasses[want] || p.TopK[1].Class != testClasses[(want+1)%10] || p.TopK[1].Probability != 0.25 {
				t.Errorf("top_k %+v, want %s then %s", p.TopK, testClasses[want], testClasses[(want+1)%10])
			}
		})
	}
}

func TestPredictBatchJSON(t *testing.T) {
	f := &fakePredictor{}
	_, ts := newTestServer(t, f)
	reds := []uint8{13, 90, 192, 243}
	var imgs []string
	for i, r := range reds {
		b := pngBytes(t, solid(32, 32, color.RGBA{r, 0, 0, 255}))
		s := base64.StdEncoding.EncodeToString(b)
		if i == 1 {
			s = "data:image/png;base64," + s
		}
		imgs = append(imgs, s)
	}
	body, _ := json.Marshal(BatchRequest{Images: imgs})
	code, resp := post(t, ts.URL+"/v1/predict?top_k=5", "application/json", body)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, resp)
	}
	r := decodePredict(t, resp)
	if len(r.Predictions) != len(reds) {
		t.Fatalf("%d predictions for %d images", len(r.Predictions), len(reds))
	}
	for i, red := range reds {
		p := r.Predictions[i]
		if p.ClassIndex != classOfRed(red) {
			t.Errorf("image %d: class %d, want %d", i, p.ClassIndex, classOfRed(red))
		}
		if len(p.TopK) != 5 {
			t.Errorf("image %d: %d top_k entries, want 5", i, len(p.TopK))
		}
		for j := 1; j < len(p.TopK); j++ {
			if p.TopK[j].Probability > p.TopK[j-1].Probability {
				t.Errorf("image %d: top_k not sorted: %+v", i, p.TopK)
			}
		}
	}
	if _, _, calls := f.stats(); calls != 1 {
		t.Errorf("the batch took %d predictor calls, want 1", calls)
	}
}

// Every bad input gets a 4xx with a JSON error, and the server keeps
// answering good requests afterwards.
func TestBadInputs(t *testing.T) {
	f := &fakePredictor{}
	_, ts := newTestServer(t, f, WithMaxBodyBytes(64<<10), WithMaxImages(3))
	good := pngBytes(t, solid(32, 32, color.RGBA{90, 0, 0, 255}))
	goodJPEG := jpegBytes(t, solid(32, 32, color.RGBA{90, 0, 0, 255}))
	b64 := base64.StdEncoding.EncodeToString(good)
	batch := func(n int) []byte {
		imgs := make([]string, n)
		for i := range imgs {
			imgs[i] = b64
		}
		b, _ := json.Marshal(BatchRequest{Images: imgs})
		return b
	}
	for _, tc := range []struct {
		name, method, path, ct string
		body                   []byte
		code                   int
		errHas                 string
	}{
		{"not an image", "POST", "/v1/predict", "image/png", []byte("hello, I am text"), 400, "not a valid JPEG or PNG"},
		{"corrupt jpeg", "POST", "/v1/predict", "image/jpeg", goodJPEG[:len(goodJPEG)/2], 400, "not a valid JPEG or PNG"},
		{"png labelled jpeg", "POST", "/v1/predict", "image/jpeg", good, 400, "content type says image/jpeg"},
		{"empty body", "POST", "/v1/predict", "image/png", nil, 400, "empty"},
		{"oversize body", "POST", "/v1/predict", "image/png", make([]byte, 65<<10), 413, "limit"},
		{"wrong content type", "POST", "/v1/predict", "text/plain", good, 415, "image/jpeg, image/png or application/json"},
		{"no content type", "POST", "/v1/predict", "", good, 415, "not accepted"},
		{"unparsable content type", "POST", "/v1/predict", "image/png; ===", good, 415, "cannot be parsed"},
		{"too many images", "POST", "/v1/predict", "application/json", batch(4), 413, "limit of 3"},
		{"no images", "POST", "/v1/predict", "application/json", []byte(`{"images":[]}`), 400, "empty"},
		{"bad base64", "POST", "/v1/predict", "application/json", []byte(`{"images":["` + b64 + `","%%%notbase64"]}`), 400, "images[1] is not valid standard base64"},
		{"base64 of a non-image", "POST", "/v1/predict", "application/json", []byte(`{"images":["aGVsbG8="]}`), 400, "images[0]: not a valid JPEG or PNG"},
		{"bad json", "POST", "/v1/predict", "application/json", []byte(`{"images":[`), 400, "not valid JSON"},
		{"unknown field", "POST", "/v1/predict", "application/json", []byte(`{"image":["` + b64 + `"]}`), 400, "unknown field"},
		{"trailing data", "POST", "/v1/predict", "application/json", []byte(`{"images":["` + b64 + `"]} {}`), 400, "after the JSON"},
		{"top_k zero", "POST", "/v1/predict?top_k=0", "image/png", good, 400, "top_k"},
		{"top_k above classes", "POST", "/v1/predict?top_k=11", "image/png", good, 400, "from 1 to 10"},
		{"top_k not a number", "POST", "/v1/predict?top_k=three", "image/png", good, 400, "top_k"},
		{"get predict", "GET", "/v1/predict", "", nil, 405, "takes POST"},
		{"post model", "POST", "/v1/model", "application/json", []byte("{}"), 405, "takes GET"},
		{"unknown path", "GET", "/v2/predict", "", nil, 404, "no route"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, ts.URL+tc.path, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			code, body := do(t, req)
			if code != tc.code {
				t.Errorf("status %d, want %d (body %s)", code, tc.code, body)
			}
			var e errorBody
			if err := json.Unmarshal(body, &e); err != nil || !strings.Contains(e.Error, tc.errHas) {
				t.Errorf("body %s: want a JSON error containing %q", body, tc.errHas)
			}
		})
	}
	code, body := post(t, ts.URL+"/v1/predict", "image/png", good)
	if code != http.StatusOK {
		t.Fatalf("after the bad inputs a good request got %d: %s", code, body)
	}
	if _, _, calls := f.stats(); calls != 1 {
		t.Errorf("the predictor ran %d times, want once (bad inputs must not reach it)", calls)
	}
}

// A body without Content-Length (chunked) is cut at the limit too.
func TestOversizeChunkedBody(t *testing.T) {
	_, ts := newTestServer(t, &fakePredictor{}, WithMaxBodyBytes(1024))
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/predict", io.MultiReader(strings.NewReader(strings.Repeat("x", 4096))))
	req.Header.Set("Content-Type", "image/png")
	code, body := do(t, req)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "1024-byte limit") {
		t.Errorf("status %d body %s, want 413 naming the limit", code, body)
	}
}

func TestPredictorFailures(t *testing.T) {
	img := pngBytes(t, solid(32, 32, color.RGBA{90, 0, 0, 255}))
	for name, f := range map[string]*fakePredictor{
		"error":        {err: errors.New("out of memory")},
		"short output": {bad: true},
	} {
		t.Run(name, func(t *testing.T) {
			_, ts := newTestServer(t, f)
			code, body := post(t, ts.URL+"/v1/predict", "image/png", img)
			var e errorBody
			if code != http.StatusInternalServerError || json.Unmarshal(body, &e) != nil || e.Error == "" {
				t.Errorf("status %d body %s, want 500 with a JSON error", code, body)
			}
		})
	}
}

func TestReadinessBeforeModel(t *testing.T) {
	s, ts := newTestServer(t, nil)
	img := pngBytes(t, solid(32, 32, color.RGBA{90, 0, 0, 255}))
	if code, _ := get(t, ts.URL+"/healthz"); code != 200 {
		t.Errorf("/healthz before the model: %d, want 200 (the process is alive)", code)
	}
	for _, path := range []string{"/readyz", "/v1/model"} {
		if code, _ := get(t, ts.URL+path); code != 503 {
			t.Errorf("%s before the model: %d, want 503", path, code)
		}
	}
	if code, body := post(t, ts.URL+"/v1/predict", "image/png", img); code != 503 || !strings.Contains(string(body), "loading") {
		t.Errorf("/v1/predict before the model: %d %s, want 503", code, body)
	}
	if err := s.SetModel(&Model{Predictor: &fakePredictor{}, Classes: testClasses, Version: "v2.0.0", Metadata: map[string]string{"architecture": "seed"}}); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, ts.URL+"/readyz"); code != 200 {
		t.Errorf("/readyz after the model: %d, want 200", code)
	}
	code, body := get(t, ts.URL+"/v1/model")
	var m modelResponse
	if code != 200 || json.Unmarshal(body, &m) != nil || m.Version != "v2.0.0" || len(m.Classes) != 10 || !strings.Contains(string(body), `"architecture":"seed"`) {
		t.Errorf("/v1/model: %d %s", code, body)
	}
	if code, _ := post(t, ts.URL+"/v1/predict", "image/png", img); code != 200 {
		t.Errorf("/v1/predict after the model: %d, want 200", code)
	}
}

func TestSetModelRejectsIncomplete(t *testing.T) {
	s := New()
	if err := s.SetModel(&Model{Classes: testClasses}); err == nil {
		t.Error("a model without a predictor was accepted")
	}
	if err := s.SetModel(&Model{Predictor: &fakePredictor{}}); err == nil {
		t.Error("a model without classes was accepted")
	}
	if s.Ready() {
		t.Error("the server is ready without a valid model")
	}
}

func TestModelEndpoint(t *testing.T) {
	_, ts := newTestServer(t, &fakePredictor{})
	code, body := get(t, ts.URL+"/v1/model")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var got struct {
		Version  string         `json:"version"`
		Classes  []string       `json:"classes"`
		Metadata map[string]any `json:"metadata"`
		Metrics  map[string]any `json:"metrics"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != "v1.2.3" || got.Classes[3] != "cat" || got.Metadata["architecture"] != "convnet" || got.Metrics["accuracy"] != 0.5 {
		t.Errorf("/v1/model = %s", body)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	_, ts := newTestServer(t, &fakePredictor{})
	img := pngBytes(t, solid(32, 32, color.RGBA{90, 0, 0, 255}))
	post(t, ts.URL+"/v1/predict", "image/png", img)
	post(t, ts.URL+"/v1/predict", "image/png", img)
	post(t, ts.URL+"/v1/predict", "text/plain", img)
	b64 := base64.StdEncoding.EncodeToString(img)
	post(t, ts.URL+"/v1/predict", "application/json", []byte(`{"images":["`+b64+`","`+b64+`","`+b64+`"]}`))
	get(t, ts.URL+"/nope")
	get(t, ts.URL+"/nope/again")
	code, body := get(t, ts.URL+"/metrics")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	text := string(body)
	for _, want := range []string{
		"# TYPE model_release_http_requests_total counter\n",
		`model_release_http_requests_total{route="/v1/predict",code="200"} 3` + "\n",
		`model_release_http_requests_total{route="/v1/predict",code="415"} 1` + "\n",
		`model_release_http_requests_total{route="other",code="404"} 2` + "\n",
		"# TYPE model_release_http_request_duration_seconds histogram\n",
		`model_release_http_request_duration_seconds_bucket{route="/v1/predict",le="+Inf"} 4` + "\n",
		`model_release_http_request_duration_seconds_count{route="/v1/predict"} 4` + "\n",
		"model_release_http_requests_in_flight 1\n", // this scrape
		"model_release_images_predicted_total 5\n",
		"model_release_model_ready 1\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, text)
		}
	}
	// Buckets are cumulative: never decreasing, ending at the count.
	var last int
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, `model_release_http_request_duration_seconds_bucket{route="/v1/predict"`) {
			continue
		}
		var n int
		fmt.Sscanf(line[strings.LastIndex(line, " ")+1:], "%d", &n)
		if n < last {
			t.Errorf("bucket %q decreases from %d", line, last)
		}
		last = n
	}
	if last != 4 {
		t.Errorf("the last bucket holds %d, want 4", last)
	}
}

// startServe runs Serve on a loopback port and returns its URL, the cancel
// function and the channel Serve's result arrives on.
func startServe(t *testing.T, s *Server, load Loader) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() { done <- s.Serve(ctx, ln, load); close(finished) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return "http://" + ln.Addr().String(), cancel, done
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAsyncLoad(t *testing.T) {
	release := make(chan struct{})
	s := New()
	url, _, _ := startServe(t, s, func(ctx context.Context) (*Model, error) {
		<-release
		return &Model{Predictor: &fakePredictor{}, Classes: testClasses, Version: "v0.1.0"}, nil
	})
	if code, _ := get(t, url+"/healthz"); code != 200 {
		t.Errorf("/healthz while loading: %d, want 200", code)
	}
	if code, _ := get(t, url+"/readyz"); code != 503 {
		t.Errorf("/readyz while loading: %d, want 503", code)
	}
	img := pngBytes(t, solid(32, 32, color.RGBA{90, 0, 0, 255}))
	if code, _ := post(t, url+"/v1/predict", "image/png", img); code != 503 {
		t.Errorf("/v1/predict while loading: %d, want 503", code)
	}
	close(release)
	waitFor(t, "/readyz to answer 200", func() bool { code, _ := get(t, url+"/readyz"); return code == 200 })
	if code, body := post(t, url+"/v1/predict", "image/png", img); code != 200 {
		t.Errorf("/v1/predict after loading: %d %s", code, body)
	}
}

func TestLoadFailureStopsServer(t *testing.T) {
	s := New()
	_, _, done := startServe(t, s, func(ctx context.Context) (*Model, error) {
		return nil, errors.New("model.safetensors: no such file")
	})
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "loading the model") || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("Serve returned %v, want the load error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve kept running after the model failed to load")
	}
}

// Cancelling Serve's context while requests are inside the predictor lets
// every one of them finish with 200.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	const n = 4
	f := &fakePredictor{gate: make(chan struct{}), entered: make(chan struct{}, n)}
	s := New(WithWorkers(n))
	if err := s.SetModel(&Model{Predictor: f, Classes: testClasses}); err != nil {
		t.Fatal(err)
	}
	url, cancel, done := startServe(t, s, nil)
	img := pngBytes(t, solid(32, 32, color.RGBA{90, 0, 0, 255}))

	codes := make(chan int, n)
	for range n {
		go func() {
			resp, err := http.Post(url+"/v1/predict", "image/png", bytes.NewReader(img))
			if err != nil {
				codes <- -1
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	for range n {
		<-f.entered
	}
	cancel()
	// Shutdown closes the listener first; wait until new connections fail,
	// so the requests are released only once shutdown is under way.
	host := strings.TrimPrefix(url, "http://")
	waitFor(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", host)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) while requests were in flight", err)
	default:
	}
	close(f.gate)
	for i := range n {
		if code := <-codes; code != 200 {
			t.Errorf("in-flight request %d ended with %d, want 200", i, code)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Serve returned %v after a clean shutdown", err)
	}
}

// With 2 workers, 6 concurrent requests never run more than 2 predictions
// at once, and all of them are answered.
func TestWorkerLimit(t *testing.T) {
	const workers, requests = 2, 6
	f := &fakePredictor{gate: make(chan struct{}), entered: make(chan struct{}, requests)}
	_, ts := newTestServer(t, f, WithWorkers(workers))
	img := pngBytes(t, solid(32, 32, color.RGBA{90, 0, 0, 255}))
	var wg sync.WaitGroup
	codes := make(chan int, requests)
	for range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(ts.URL+"/v1/predict", "image/png", bytes.NewReader(img))
			if err != nil {
				codes <- -1
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	for range workers {
		<-f.entered
	}
	// The other requests are queued for a worker; give them time to
	// (wrongly) get in.
	time.Sleep(100 * time.Millisecond)
	if active, _, _ := f.stats(); active != workers {
		t.Errorf("%d predictions running, want exactly %d", active, workers)
	}
	close(f.gate)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a queued request got %d, want 200", c)
		}
	}
	if _, maxActive, calls := f.stats(); maxActive != workers || calls != requests {
		t.Errorf("max %d concurrent predictions over %d calls, want %d over %d", maxActive, calls, workers, requests)
	}
}
