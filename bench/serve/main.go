// Command serve is the load test of model-release's prediction server. It
// starts the server in-process on 127.0.0.1 (or targets --url, which must
// be a loopback address), sends a fixed number of POST /v1/predict
// requests at a fixed concurrency and prints throughput, latency
// percentiles and the error count.
//
//	go run ./bench/serve --model model-release-out/model --requests 2000 --concurrency 8
//
// Without --model it builds a convnet with random weights (said in the
// output); with --fake it serves a constant-time fake predictor, which
// measures the HTTP and decoding overhead alone.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/model-release/model-release/internal/model"
	"github.com/model-release/model-release/internal/serve"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/serve:", err)
		os.Exit(1)
	}
}

type options struct {
	model       string
	fake        bool
	target      string
	requests    int
	concurrency int
	batch       int
	workers     int
	warmup      int
	dump        string
	initRandom  string
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("bench/serve", flag.ContinueOnError)
	fs.StringVar(&o.model, "model", "", "model folder to serve (default: a convnet with random weights)")
	fs.BoolVar(&o.fake, "fake", false, "serve a fake predictor instead of a model (HTTP and decoding overhead only)")
	fs.StringVar(&o.target, "url", "", "base URL of a running server on loopback, e.g. http://127.0.0.1:8080 (default: start one in-process)")
	fs.IntVar(&o.requests, "requests", 2000, "requests to send (after warm-up)")
	fs.IntVar(&o.concurrency, "concurrency", 8, "concurrent clients")
	fs.IntVar(&o.batch, "batch", 1, "images per request (1: a PNG body; more: a JSON batch)")
	fs.IntVar(&o.workers, "workers", 0, "server inference workers (0: one per CPU)")
	fs.IntVar(&o.warmup, "warmup", 16, "untimed requests first")
	fs.StringVar(&o.dump, "dump", "", "write the first request image (raw CHW bytes, hex) and the server's top-3 answer to this JSON file, for cross-checking another implementation")
	fs.StringVar(&o.initRandom, "init-random", "", "only write a convnet with seeded random weights to this folder and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.initRandom != "" {
		return randomModel(o.initRandom)
	}
	if o.requests < 1 || o.requests > 100000 || o.concurrency < 1 || o.concurrency > 256 || o.batch < 1 || o.batch > 64 {
		return errors.New("want 1..100000 requests, 1..256 concurrency and 1..64 images per request")
	}

	base := o.target
	what := ""
	if base == "" {
		var stopServer func() error
		var err error
		base, what, stopServer, err = startServer(ctx, o)
		if err != nil {
			return err
		}
		defer func() {
			if err := stopServer(); err != nil {
				fmt.Fprintln(os.Stderr, "bench/serve: stopping the server:", err)
			}
		}()
	} else {
		if err := checkLoopback(base); err != nil {
			return err
		}
		what = "server at " + base
	}

	client := &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency, MaxConnsPerHost: o.concurrency},
	}
	if err := waitReady(ctx, client, base); err != nil {
		return err
	}
	body, contentType, err := requestBody(o.batch)
	if err != nil {
		return err
	}
	send := func() (time.Duration, error) {
		start := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/predict", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", contentType)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
		}
		var pr serve.PredictResponse
		if err := json.Unmarshal(b, &pr); err != nil || len(pr.Predictions) != o.batch {
			return 0, fmt.Errorf("bad prediction body %q", b)
		}
		return time.Since(start), nil
	}
	if o.dump != "" {
		if err := dumpSample(ctx, client, base, o.dump); err != nil {
			return err
		}
	}
	for range o.warmup {
		if _, err := send(); err != nil {
			return fmt.Errorf("warm-up request: %w", err)
		}
	}

	lat := make([]time.Duration, 0, o.requests)
	var mu sync.Mutex
	var next atomic.Int64
	var errCount atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(o.requests) && ctx.Err() == nil {
				d, err := send()
				if err != nil {
					errCount.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}

	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	ok := len(lat)
	fmt.Fprintf(out, "target: %s\n", what)
	fmt.Fprintf(out, "requests: %d (%d images each), concurrency %d, GOMAXPROCS %d\n", o.requests, o.batch, o.concurrency, runtime.GOMAXPROCS(0))
	fmt.Fprintf(out, "elapsed_s=%.3f requests_per_sec=%.1f images_per_sec=%.1f\n", elapsed.Seconds(), float64(ok)/elapsed.Seconds(), float64(ok*o.batch)/elapsed.Seconds())
	fmt.Fprintf(out, "latency_ms p50=%.2f p95=%.2f p99=%.2f max=%.2f\n", pct(0.50), pct(0.95), pct(0.99), pct(1))
	fmt.Fprintf(out, "errors=%d\n", errCount.Load())
	if n := errCount.Load(); n > 0 {
		return fmt.Errorf("%d of %d requests failed; first: %v", n, o.requests, firstErr.Load())
	}
	return nil
}

// startServer serves the model in-process on a loopback port.
func startServer(ctx context.Context, o options) (base, what string, stop func() error, err error) {
	var load serve.Loader
	switch {
	case o.fake:
		what = "in-process server, fake predictor (no model)"
		load = func(context.Context) (*serve.Model, error) {
			return &serve.Model{Predictor: fakePredictor{}, Classes: classes, Version: "bench"}, nil
		}
	default:
		dir := o.model
		what = "in-process server, model " + dir
		if dir == "" {
			tmp, err := os.MkdirTemp("", "bench-serve-*")
			if err != nil {
				return "", "", nil, err
			}
			dir = tmp
			if err := randomModel(dir); err != nil {
				return "", "", nil, err
			}
			what = "in-process server, convnet with RANDOM weights (no --model given)"
		}
		load = func(context.Context) (*serve.Model, error) {
			m, err := model.Load(dir)
			if err != nil {
				return nil, err
			}
			md := m.Metadata()
			return &serve.Model{Predictor: m, Classes: md.Classes, Version: "bench", Metadata: md}, nil
		}
	}
	// Load before listening: the bench measures a ready server, and a
	// load error is reported at once.
	m, err := load(ctx)
	if err != nil {
		return "", "", nil, fmt.Errorf("loading the model: %w", err)
	}
	s := serve.New(serve.WithWorkers(o.workers))
	if err := s.SetModel(m); err != nil {
		return "", "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Serve(sctx, ln, nil) }()
	return "http://" + ln.Addr().String(), what, func() error { cancel(); return <-done }, nil
}

var classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// randomModel saves a convnet with seeded random weights in dir.
func randomModel(dir string) error {
	arch, err := model.LookupArch("convnet", len(classes))
	if err != nil {
		return err
	}
	m, err := model.New(model.Metadata{
		Architecture: "convnet",
		Classes:      classes,
		Mean:         [3]float32{0.4914, 0.4822, 0.4465},
		Std:          [3]float32{0.2470, 0.2435, 0.2616},
	}, arch.Init(rand.New(rand.NewPCG(1, 2))))
	if err != nil {
		return err
	}
	return m.Save(dir)
}

// fakePredictor answers uniform probabilities at once.
type fakePredictor struct{}

func (fakePredictor) Predict(_ []uint8, n int) ([]float32, error) {
	out := make([]float32, n*len(classes))
	for i := range out {
		out[i] = 1 / float32(len(classes))
	}
	return out, nil
}

// sampleImage is the seeded random 32x32 image every request sends.
func sampleImage() *image.RGBA {
	rng := rand.New(rand.NewPCG(7, 7))
	m := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for y := range 32 {
		for x := range 32 {
			m.SetRGBA(x, y, color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255})
		}
	}
	return m
}

// dumpSample records the sample image as a raw CHW record and the
// server's answer for it, so bench/serve/torch_infer.py can check that it
// runs the same network.
func dumpSample(ctx context.Context, client *http.Client, base, path string) error {
	body, ct, err := requestBody(1)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/predict?top_k=3", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ct)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var pr serve.PredictResponse
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil || len(pr.Predictions) != 1 {
		return fmt.Errorf("dump: bad prediction (status %d): %v", resp.StatusCode, err)
	}
	m := sampleImage()
	raw := make([]byte, 3*32*32)
	for y := range 32 {
		for x := range 32 {
			for c := range 3 {
				raw[c*1024+y*32+x] = m.Pix[y*m.Stride+4*x+c]
			}
		}
	}
	b, err := json.MarshalIndent(map[string]any{"image_chw_hex": fmt.Sprintf("%x", raw), "prediction": pr.Predictions[0]}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// requestBody is the sample image as a PNG, or a JSON batch of copies.
func requestBody(batch int) ([]byte, string, error) {
	pngOf := func() ([]byte, error) {
		var b bytes.Buffer
		err := png.Encode(&b, sampleImage())
		return b.Bytes(), err
	}
	if batch == 1 {
		b, err := pngOf()
		return b, "image/png", err
	}
	var req serve.BatchRequest
	for range batch {
		b, err := pngOf()
		if err != nil {
			return nil, "", err
		}
		req.Images = append(req.Images, base64.StdEncoding.EncodeToString(b))
	}
	b, err := json.Marshal(req)
	return b, "application/json", err
}

func waitReady(ctx context.Context, client *http.Client, base string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/readyz did not answer 200 within 2 minutes (last: %v)", base, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkLoopback keeps the load test off the network.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return fmt.Errorf("--url %q is not an http:// URL", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--url %q is not a loopback address; the load test only targets 127.0.0.1 or localhost", raw)
	}
	return nil
}
