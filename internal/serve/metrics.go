package serve

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// latencyBuckets are the upper bounds, in seconds, of the request latency
// histogram: from a cached 32x32 prediction to a full 64-image batch on a
// busy CPU.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// routeKey labels one counter series.
type routeKey struct {
	route string
	code  int
}

// histogram is a cumulative-bucket latency histogram for one route.
type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	count  uint64
}

// telemetry holds the server's counters, written in the Prometheus text
// exposition format (version 0.0.4) by hand: a handful of series does not
// justify a client library.
type telemetry struct {
	mu       sync.Mutex
	requests map[routeKey]uint64
	latency  map[string]*histogram
	inFlight atomic.Int64
	images   atomic.Uint64
}

func newTelemetry() *telemetry {
	return &telemetry{requests: map[routeKey]uint64{}, latency: map[string]*histogram{}}
}

func (t *telemetry) observe(route string, code int, d time.Duration) {
	secs := d.Seconds()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.requests[routeKey{route, code}]++
	h := t.latency[route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets)+1)}
		t.latency[route] = h
	}
	i := sort.SearchFloat64s(latencyBuckets, secs) // first bound >= secs
	h.counts[i]++
	h.sum += secs
	h.count++
}

// write renders every series; ready is the model_release_model_ready gauge.
func (t *telemetry) write(w io.Writer, ready bool) error {
	t.mu.Lock()
	keys := make([]routeKey, 0, len(t.requests))
	for k := range t.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].route != keys[j].route {
			return keys[i].route < keys[j].route
		}
		return keys[i].code < keys[j].code
	})
	reqs := make([]uint64, len(keys))
	for i, k := range keys {
		reqs[i] = t.requests[k]
	}
	routes := make([]string, 0, len(t.latency))
	for r := range t.latency {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	hists := make([]histogram, len(routes))
	for i, r := range routes {
		h := t.latency[r]
		hists[i] = histogram{counts: append([]uint64(nil), h.counts...), sum: h.sum, count: h.count}
	}
	t.mu.Unlock()

	ew := &errWriter{w: w}
	ew.printf("# HELP model_release_http_requests_total HTTP requests served, by route and status code.\n")
	ew.printf("# TYPE model_release_http_requests_total counter\n")
	for i, k := range keys {
		ew.printf("model_release_http_requests_total{route=%q,code=\"%d\"} %d\n", k.route, k.code, reqs[i])
	}
	ew.printf("# HELP model_release_http_request_duration_seconds Time from request start to the last byte of the response.\n")
	ew.printf("# TYPE model_release_http_request_duration_seconds histogram\n")
	for i, r := range routes {
		h := hists[i]
		var cum uint64
		for b, le := range latencyBuckets {
			cum += h.counts[b]
			ew.printf("model_release_http_request_duration_seconds_bucket{route=%q,le=%q} %d\n", r, formatFloat(le), cum)
		}
		cum += h.counts[len(latencyBuckets)]
		ew.printf("model_release_http_request_duration_seconds_bucket{route=%q,le=\"+Inf\"} %d\n", r, cum)
		ew.printf("model_release_http_request_duration_seconds_sum{route=%q} %s\n", r, formatFloat(h.sum))
		ew.printf("model_release_http_request_duration_seconds_count{route=%q} %d\n", r, h.count)
	}
	ew.printf("# HELP model_release_http_requests_in_flight Requests being served now.\n")
	ew.printf("# TYPE model_release_http_requests_in_flight gauge\n")
	ew.printf("model_release_http_requests_in_flight %d\n", t.inFlight.Load())
	ew.printf("# HELP model_release_images_predicted_total Images classified by the model.\n")
	ew.printf("# TYPE model_release_images_predicted_total counter\n")
	ew.printf("model_release_images_predicted_total %d\n", t.images.Load())
	ew.printf("# HELP model_release_model_ready Whether the model is loaded (1) or not yet (0).\n")
	ew.printf("# TYPE model_release_model_ready gauge\n")
	r := 0
	if ready {
		r = 1
	}
	ew.printf("model_release_model_ready %d\n", r)
	return ew.err
}

func formatFloat(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// errWriter keeps the first write error so the renderer stays linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
