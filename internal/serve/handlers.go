package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Route paths; every other path is counted under "other" so clients
// cannot grow the metric series without bound.
const (
	routePredict = "/v1/predict"
	routeModel   = "/v1/model"
	routeHealth  = "/healthz"
	routeReady   = "/readyz"
	routeMetrics = "/metrics"
	routeOther   = "other"
)

func (s *Server) routes() http.Handler {
	type route struct {
		method string
		h      http.HandlerFunc
	}
	table := map[string]route{
		routePredict: {http.MethodPost, s.predict},
		routeModel:   {http.MethodGet, s.modelInfo},
		routeHealth:  {http.MethodGet, s.health},
		routeReady:   {http.MethodGet, s.ready},
		routeMetrics: {http.MethodGet, s.metrics},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.tel.inFlight.Add(1)
		rec := &statusRecorder{ResponseWriter: w}
		rt, ok := table[r.URL.Path]
		name := r.URL.Path
		switch {
		case !ok:
			name = routeOther
			writeError(rec, http.StatusNotFound, fmt.Sprintf("no route %s; try POST %s, GET %s, %s, %s or %s", r.URL.Path, routePredict, routeModel, routeHealth, routeReady, routeMetrics))
		case r.Method != rt.method && !(rt.method == http.MethodGet && r.Method == http.MethodHead):
			rec.Header().Set("Allow", rt.method)
			writeError(rec, http.StatusMethodNotAllowed, fmt.Sprintf("%s takes %s, not %s", r.URL.Path, rt.method, r.Method))
		default:
			rt.h(rec, r)
		}
		s.tel.inFlight.Add(-1)
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		s.tel.observe(name, code, time.Since(start))
		if code >= 500 && code != http.StatusServiceUnavailable {
			s.log.Error("request failed", "route", name, "code", code, "error", rec.errMsg)
		}
	})
}

// statusRecorder remembers the status code (and error text) of a response
// for the metrics and the log.
type statusRecorder struct {
	http.ResponseWriter
	code   int
	errMsg string
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// errorBody is the JSON body of every non-2xx answer.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	if rec, ok := w.(*statusRecorder); ok {
		rec.errMsg = msg
	}
	writeJSON(w, code, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: "encoding the response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	if !s.Ready() {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "the model is still loading")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) metrics(w http.ResponseWriter, _ *http.Request) {
	var buf bytes.Buffer
	if err := s.tel.write(&buf, s.Ready()); err != nil {
		writeError(w, http.StatusInternalServerError, "rendering metrics: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// modelResponse is the body of GET /v1/model.
type modelResponse struct {
	Version  string   `json:"version"`
	Classes  []string `json:"classes"`
	Metadata any      `json:"metadata,omitempty"`
	Metrics  any      `json:"metrics,omitempty"`
}

func (s *Server) modelInfo(w http.ResponseWriter, _ *http.Request) {
	m := s.model.Load()
	if m == nil {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "the model is still loading")
		return
	}
	writeJSON(w, http.StatusOK, modelResponse{Version: m.Version, Classes: m.Classes, Metadata: m.Metadata, Metrics: m.Metrics})
}

// PredictResponse is the body of a successful POST /v1/predict.
type PredictResponse struct {
	ModelVersion string       `json:"model_version"`
	Predictions  []Prediction `json:"predictions"` // one per image, in request order
}

// Prediction is the answer for one image.
type Prediction struct {
	Class       string       `json:"class"`
	ClassIndex  int          `json:"class_index"`
	Probability float32      `json:"probability"`
	TopK        []ClassScore `json:"top_k"` // most probable first
}

// ClassScore is one class and its probability.
type ClassScore struct {
	Class       string  `json:"class"`
	Probability float32 `json:"probability"`
}

// BatchRequest is the JSON form of POST /v1/predict.
type BatchRequest struct {
	Images []string `json:"images"` // base64 JPEG or PNG, optionally as data: URLs
}

// requestError is a client mistake with its status code.
type requestError struct {
	code int
	msg  string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(code int, format string, args ...any) error {
	return &requestError{code: code, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) predict(w http.ResponseWriter, r *http.Request) {
	m := s.model.Load()
	if m == nil {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "the model is still loading; retry when GET /readyz answers 200")
		return
	}
	resp, err := s.runPredict(w, r, m)
	if err != nil {
		var re *requestError
		if errors.As(err, &re) {
			writeError(w, re.code, re.msg)
			return
		}
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) runPredict(w http.ResponseWriter, r *http.Request, m *Model) (*PredictResponse, error) {
	topK := DefaultTopK
	if v := r.URL.Query().Get("top_k"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 || k > len(m.Classes) {
			return nil, badRequest(http.StatusBadRequest, "top_k %q is not a whole number from 1 to %d (the number of classes)", v, len(m.Classes))
		}
		topK = k
	}
	topK = min(topK, len(m.Classes))

	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	var want format
	switch {
	case err != nil && ct != "":
		return nil, badRequest(http.StatusUnsupportedMediaType, "content type %q cannot be parsed; send image/jpeg, image/png or application/json", ct)
	case mt == "image/jpeg":
		want = formatJPEG
	case mt == "image/png":
		want = formatPNG
	case mt == "application/json":
	default:
		return nil, badRequest(http.StatusUnsupportedMediaType, "content type %q is not accepted; send image/jpeg, image/png or application/json", ct)
	}

	if r.ContentLength > s.maxBody {
		return nil, badRequest(http.StatusRequestEntityTooLarge, "the body is %d bytes, over the %d-byte limit", r.ContentLength, s.maxBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, badRequest(http.StatusRequestEntityTooLarge, "the body is over the %d-byte limit", s.maxBody)
		}
		return nil, badRequest(http.StatusBadRequest, "reading the body: %v", err)
	}
	if len(body) == 0 {
		return nil, badRequest(http.StatusBadRequest, "the body is empty; send an image or {\"images\":[...]}")
	}

	// Split the body into encoded images before taking a worker, so a
	// malformed batch costs no inference slot.
	var encoded [][]byte
	if mt == "application/json" {
		encoded, err = s.parseBatch(body)
		if err != nil {
			return nil, err
		}
	} else {
		encoded = [][]byte{body}
	}

	// Decoding and inference are the CPU work; a fixed number of workers
	// does it, the other requests wait here (until their client gives up).
	select {
	case s.slots <- struct{}{}:
	case <-r.Context().Done():
		return nil, badRequest(http.StatusServiceUnavailable, "the request was cancelled while waiting for a free worker")
	}
	defer func() { <-s.slots }()

	records := make([]uint8, 0, len(encoded)*recordSize)
	for i, e := range encoded {
		records, err = decodeImage(records, e, want)
		if err != nil {
			if len(encoded) > 1 || mt == "application/json" {
				return nil, badRequest(http.StatusBadRequest, "images[%d]: %v", i, err)
			}
			return nil, badRequest(http.StatusBadRequest, "%v", err)
		}
	}
	n := len(encoded)
	probs, err := m.Predictor.Predict(records, n)
	if err != nil {
		return nil, fmt.Errorf("predicting %d images: %w", n, err)
	}
	if len(probs) != n*len(m.Classes) {
		return nil, fmt.Errorf("the model returned %d probabilities for %d images of %d classes", len(probs), n, len(m.Classes))
	}
	s.tel.images.Add(uint64(n))
	return &PredictResponse{ModelVersion: m.Version, Predictions: rank(probs, n, m.Classes, topK)}, nil
}

// parseBatch decodes {"images":[base64,...]} strictly: unknown fields,
// trailing data, an empty or oversized list and bad base64 are errors.
func (s *Server) parseBatch(body []byte) ([][]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req BatchRequest
	if err := dec.Decode(&req); err != nil {
		return nil, badRequest(http.StatusBadRequest, "the body is not valid JSON of the form {\"images\":[\"<base64>\",...]}: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest(http.StatusBadRequest, "the body has data after the JSON object")
	}
	if len(req.Images) == 0 {
		return nil, badRequest(http.StatusBadRequest, "\"images\" is empty; send at least one base64 image")
	}
	if len(req.Images) > s.maxImages {
		return nil, badRequest(http.StatusRequestEntityTooLarge, "%d images is over the limit of %d per request; split the batch", len(req.Images), s.maxImages)
	}
	out := make([][]byte, len(req.Images))
	for i, str := range req.Images {
		// Accept data URLs too: data:image/png;base64,....
		if strings.HasPrefix(str, "data:") {
			if j := strings.Index(str, ";base64,"); j >= 0 {
				str = str[j+len(";base64,"):]
			}
		}
		b, err := base64.StdEncoding.DecodeString(str)
		if err != nil {
			return nil, badRequest(http.StatusBadRequest, "images[%d] is not valid standard base64: %v", i, err)
		}
		out[i] = b
	}
	return out, nil
}

// rank turns n rows of probabilities into predictions with the k most
// probable classes each; ties keep the lower class index first.
func rank(probs []float32, n int, classes []string, k int) []Prediction {
	c := len(classes)
	out := make([]Prediction, n)
	idx := make([]int, c)
	for i := range n {
		row := probs[i*c : (i+1)*c]
		for j := range idx {
			idx[j] = j
		}
		sort.SliceStable(idx, func(a, b int) bool { return greater(row[idx[a]], row[idx[b]]) })
		top := make([]ClassScore, k)
		for j := range k {
			top[j] = ClassScore{Class: classes[idx[j]], Probability: row[idx[j]]}
		}
		out[i] = Prediction{Class: classes[idx[0]], ClassIndex: idx[0], Probability: row[idx[0]], TopK: top}
	}
	return out
}

// greater orders probabilities descending with NaN last.
func greater(a, b float32) bool {
	if math.IsNaN(float64(b)) {
		return !math.IsNaN(float64(a))
	}
	return a > b
}
