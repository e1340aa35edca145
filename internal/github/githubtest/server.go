// Package githubtest is a stateful fake of the GitHub REST endpoints that
// model-release uses: tags and git refs, releases (drafts included) and
// their assets with the uploads endpoint, issue comments, check runs, commit
// statuses, the token's user, pull requests with labels and commits, and
// commit comparison. Tests point a client at Server.URL, act, then assert on
// the final state (Releases, Comments, CheckRuns, Statuses, Tags) and on the
// recorded Requests. Faults can be injected per call with FailNext.
//
// The server also answers under the GitHub Enterprise Server prefixes
// /api/v3 and /api/uploads, so a client configured with URL+"/api/v3" works.
package githubtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultToken is the token the server accepts unless SetToken changes it.
const DefaultToken = "test-token"

// DefaultLogin is the login of the token's user.
const DefaultLogin = "model-release-bot"

// ActionsLogin authors what the GitHub Actions token writes.
const ActionsLogin = "github-actions[bot]"

// Release is a release as the fake holds it.
type Release struct {
	ID         int64
	Tag        string
	Target     string // target_commitish
	Name, Body string
	Draft      bool
	Prerelease bool
	Latest     bool
	Created    time.Time
	Assets     []Asset
}

// Asset is an uploaded release asset.
type Asset struct {
	ID          int64
	Name, Label string
	ContentType string
	Data        []byte
}

// Comment is an issue (pull request) comment.
type Comment struct {
	ID    int64
	Login string
	Body  string
}

// CheckRun is a check run on a commit.
type CheckRun struct {
	ID                 int64
	Name, HeadSHA      string
	Status, Conclusion string
	Title, Summary     string
	DetailsURL         string
	CompletedAtSet     bool
}

// Status is a commit status.
type Status struct {
	State, Context, Description, TargetURL string
}

// PR is a pull request.
type PR struct {
	Number  int
	HeadSHA string
	Labels  []string
	Commits []string // messages of its commits, oldest first
}

// Request is one recorded call.
type Request struct {
	Method   string
	Path     string // without the /api/v3 prefix; uploads start with /uploads
	RawQuery string
	Body     []byte
	Fault    string // name of the injected fault, "" when served normally
	URLPath  string // the path as sent, /api/v3 prefix included
}

// Fault is an injected failure. Build one with the helpers below.
type Fault struct {
	Name   string
	Status int
	Header http.Header
	Body   string
	Reset  bool // drop the connection (TCP reset) instead of answering
}

// ServerError is a 500.
func ServerError() Fault {
	return Fault{Name: "500", Status: 500, Body: `{"message":"Server Error"}`}
}

// BadGateway is a 502.
func BadGateway() Fault { return Fault{Name: "502", Status: 502, Body: `{"message":"Bad Gateway"}`} }

// ConnReset drops the connection before answering.
func ConnReset() Fault { return Fault{Name: "reset", Reset: true} }

// SecondaryRateLimit is GitHub's 403 secondary rate limit with Retry-After.
func SecondaryRateLimit(retryAfterSeconds int) Fault {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	return Fault{Name: "secondary-rate-limit", Status: 403, Header: h,
		Body: `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#secondary-rate-limits"}`}
}

// PrimaryRateLimit is a 403 with X-RateLimit-Remaining 0 until reset.
func PrimaryRateLimit(reset time.Time) Fault {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	return Fault{Name: "primary-rate-limit", Status: 403, Header: h, Body: `{"message":"API rate limit exceeded"}`}
}

// AlreadyExists is a 422 validation failure with code already_exists.
func AlreadyExists() Fault {
	return Fault{Name: "already_exists", Status: 422,
		Body: `{"message":"Validation Failed","errors":[{"resource":"Release","code":"already_exists","field":"tag_name"}]}`}
}

// Forbidden is the 403 a read-only token gets.
func Forbidden() Fault {
	return Fault{Name: "forbidden", Status: 403, Body: `{"message":"Resource not accessible by integration"}`}
}

type faultRule struct {
	method, pattern string
	fault           Fault
}

// Server is the fake. Use New.
type Server struct {
	URL string

	t  testing.TB
	ts *httptest.Server

	mu           sync.Mutex
	token        string
	login        string
	actionsToken bool
	readOnly     bool
	noChecks     bool
	maxPerPage   int
	nextID       int64
	clock        time.Time
	tags         map[string]string
	releases     []*Release
	comments     map[int][]*Comment
	checkRuns    []*CheckRun
	statuses     map[string][]Status
	prs          map[int]*PR
	history      []string
	faults       []faultRule
	requests     []Request
}

// New starts a fake closed at the end of the test.
func New(t testing.TB) *Server {
	s := &Server{
		t: t, token: DefaultToken, login: DefaultLogin, maxPerPage: 100, nextID: 1000,
		clock: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		tags:  map[string]string{}, comments: map[int][]*Comment{}, statuses: map[string][]Status{}, prs: map[int]*PR{},
	}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.ts.URL
	t.Cleanup(s.ts.Close)
	return s
}

// SetToken changes the accepted token.
func (s *Server) SetToken(tok string) { s.mu.Lock(); s.token = tok; s.mu.Unlock() }

// SetLogin changes the token's user login.
func (s *Server) SetLogin(login string) { s.mu.Lock(); s.login = login; s.mu.Unlock() }

// ActionsToken makes the token behave like GITHUB_TOKEN: GET /user is 403
// and what it writes is authored by github-actions[bot].
func (s *Server) ActionsToken(on bool) { s.mu.Lock(); s.actionsToken = on; s.mu.Unlock() }

// ReadOnly makes every write 403 "Resource not accessible by integration",
// as for a pull request from a fork.
func (s *Server) ReadOnly(on bool) { s.mu.Lock(); s.readOnly = on; s.mu.Unlock() }

// ForbidChecks makes check-run writes 403 (a token without checks:write).
func (s *Server) ForbidChecks(on bool) { s.mu.Lock(); s.noChecks = on; s.mu.Unlock() }

// SetMaxPerPage caps page sizes so tests exercise pagination.
func (s *Server) SetMaxPerPage(n int) { s.mu.Lock(); s.maxPerPage = n; s.mu.Unlock() }

// AddTag creates a lightweight tag at sha.
func (s *Server) AddTag(name, sha string) { s.mu.Lock(); s.tags[name] = sha; s.mu.Unlock() }

// SetPR creates or replaces a pull request.
func (s *Server) SetPR(pr PR) { s.mu.Lock(); c := pr; s.prs[pr.Number] = &c; s.mu.Unlock() }

// SetHistory declares a linear commit history, oldest first, used by the
// compare endpoint.
func (s *Server) SetHistory(shas ...string) {
	s.mu.Lock()
	s.history = append([]string(nil), shas...)
	s.mu.Unlock()
}

// AddRelease seeds a release and returns its id.
func (s *Server) AddRelease(r Release) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := r
	c.ID = s.id()
	c.Created = s.now()
	for i := range c.Assets {
		c.Assets[i].ID = s.id()
	}
	s.releases = append(s.releases, &c)
	if !c.Draft {
		if _, ok := s.tags[c.Tag]; !ok {
			s.tags[c.Tag] = c.Target
		}
		if c.Latest {
			s.setLatest(c.ID)
		}
	}
	return c.ID
}

// AddComment seeds a comment on pull request pr and returns its id.
func (s *Server) AddComment(pr int, login, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &Comment{ID: s.id(), Login: login, Body: body}
	s.comments[pr] = append(s.comments[pr], c)
	return c.ID
}

// FailNext makes the next request matching method ("" or "*" for any) and
// pathPattern (path.Match syntax over the path without /api/v3, e.g.
// "/repos/*/*/releases/*") fail with f. Calls queue: two FailNext calls
// fail the next two matching requests.
func (s *Server) FailNext(method, pathPattern string, f Fault) {
	if _, err := path.Match(pathPattern, "/"); err != nil {
		s.t.Fatalf("githubtest: bad path pattern %q: %v", pathPattern, err)
	}
	s.mu.Lock()
	s.faults = append(s.faults, faultRule{method, pathPattern, f})
	s.mu.Unlock()
}

// ClearFaults drops the injected faults not yet triggered.
func (s *Server) ClearFaults() { s.mu.Lock(); s.faults = nil; s.mu.Unlock() }

// PendingFaults counts injected faults not yet triggered.
func (s *Server) PendingFaults() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.faults) }

// Requests returns every request served so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Releases returns copies of all releases in creation order.
func (s *Server) Releases() []Release {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Release, len(s.releases))
	for i, r := range s.releases {
		out[i] = *r
		out[i].Assets = append([]Asset(nil), r.Assets...)
	}
	return out
}

// Comments returns the comments on pull request pr, oldest first.
func (s *Server) Comments(pr int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.comments[pr] {
		out = append(out, *c)
	}
	return out
}

// CheckRuns returns all check runs.
func (s *Server) CheckRuns() []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CheckRun
	for _, c := range s.checkRuns {
		out = append(out, *c)
	}
	return out
}

// Statuses returns the commit statuses posted for sha, oldest first.
func (s *Server) Statuses(sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Status(nil), s.statuses[sha]...)
}

// Tags returns tag name -> commit sha.
func (s *Server) Tags() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for k, v := range s.tags {
		out[k] = v
	}
	return out
}

func (s *Server) id() int64 { s.nextID++; return s.nextID }

func (s *Server) now() time.Time { s.clock = s.clock.Add(time.Second); return s.clock }

func (s *Server) setLatest(id int64) {
	for _, r := range s.releases {
		r.Latest = r.ID == id
	}
}

// --- HTTP ---

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p := r.URL.Path
	ghes := false
	if rest, ok := strings.CutPrefix(p, "/api/v3"); ok {
		p, ghes = rest, true
	} else if rest, ok := strings.CutPrefix(p, "/api/uploads"); ok {
		p, ghes = "/uploads"+rest, true
	}
	s.mu.Lock()
	req := Request{Method: r.Method, Path: p, RawQuery: r.URL.RawQuery, Body: body, URLPath: r.URL.Path}
	var fault *Fault
	for i, f := range s.faults {
		if f.method != "" && f.method != "*" && f.method != r.Method {
			continue
		}
		if ok, _ := path.Match(f.pattern, p); ok {
			fault = &f.fault
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			break
		}
	}
	if fault != nil {
		req.Fault = fault.Name
	}
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	if fault != nil {
		if fault.Reset {
			resetConn(w)
			return
		}
		for k, v := range fault.Header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fault.Status)
		io.WriteString(w, fault.Body)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	auth := r.Header.Get("Authorization")
	if auth != "Bearer "+s.token && auth != "token "+s.token {
		writeJSON(w, 401, map[string]any{"message": "Bad credentials"})
		return
	}
	h := &handler{s: s, w: w, r: r, body: body, path: p, ghes: ghes}
	h.route()
}

// resetConn closes the connection with a TCP reset, as a flaky proxy does.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		w.WriteHeader(500)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type handler struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	body []byte
	path string
	ghes bool
}

func (h *handler) fail(status int, msg string) {
	writeJSON(h.w, status, map[string]any{"message": msg})
}
func (h *handler) notFound() { h.fail(404, "Not Found") }
func (h *handler) ok(v any)  { writeJSON(h.w, 200, v) }

func (h *handler) decode(v any) bool {
	if err := json.Unmarshal(h.body, v); err != nil {
		h.fail(400, "Problems parsing JSON")
		return false
	}
	return true
}

func (h *handler) apiBase() string {
	if h.ghes {
		return h.s.URL + "/api/v3"
	}
	return h.s.URL
}

func (h *handler) uploadBase() string {
	if h.ghes {
		return h.s.URL + "/api/uploads"
	}
	return h.s.URL + "/uploads"
}

func (h *handler) route() {
	s, m := h.s, h.r.Method
	seg := strings.Split(strings.Trim(h.path, "/"), "/")
	if m != http.MethodGet && s.readOnly {
		h.fail(403, "Resource not accessible by integration")
		return
	}
	if h.path == "/user" && m == http.MethodGet {
		if s.actionsToken {
			h.fail(403, "Resource not accessible by integration")
			return
		}
		h.ok(map[string]any{"login": s.login, "id": 1, "type": "Bot"})
		return
	}
	if len(seg) >= 6 && seg[0] == "uploads" && seg[1] == "repos" && seg[4] == "releases" && len(seg) == 7 && seg[6] == "assets" && m == http.MethodPost {
		h.upload(seg[2], seg[3], seg[5])
		return
	}
	if len(seg) == 3 && seg[0] == "repos" && m == http.MethodGet {
		h.repository(seg[1], seg[2])
		return
	}
	if len(seg) < 4 || seg[0] != "repos" {
		h.notFound()
		return
	}
	o, rp, rest := seg[1], seg[2], seg[3:]
	switch {
	case rest[0] == "releases":
		h.releases(o, rp, rest[1:])
	case rest[0] == "tags" && len(rest) == 1 && m == http.MethodGet:
		names := make([]string, 0, len(s.tags))
		for n := range s.tags {
			names = append(names, n)
		}
		sort.Strings(names)
		var items []any
		for _, n := range names {
			items = append(items, map[string]any{"name": n, "commit": map[string]any{"sha": s.tags[n]}})
		}
		h.page(items)
	case rest[0] == "git" && len(rest) >= 4 && rest[1] == "ref" && rest[2] == "tags" && m == http.MethodGet:
		tag := strings.Join(rest[3:], "/")
		sha, ok := s.tags[tag]
		if !ok {
			h.notFound()
			return
		}
		h.ok(map[string]any{"ref": "refs/tags/" + tag, "object": map[string]any{"type": "commit", "sha": sha}})
	case rest[0] == "issues" && len(rest) == 3 && rest[2] == "comments":
		n, _ := strconv.Atoi(rest[1])
		h.issueComments(o, rp, n)
	case rest[0] == "issues" && len(rest) == 3 && rest[1] == "comments":
		id, _ := strconv.ParseInt(rest[2], 10, 64)
		h.comment(id)
	case rest[0] == "issues" && len(rest) == 3 && rest[2] == "labels" && m == http.MethodGet:
		n, _ := strconv.Atoi(rest[1])
		pr, ok := s.prs[n]
		if !ok {
			h.notFound()
			return
		}
		var items []any
		for _, l := range pr.Labels {
			items = append(items, map[string]any{"name": l})
		}
		h.page(items)
	case rest[0] == "pulls" && len(rest) >= 2 && m == http.MethodGet:
		n, _ := strconv.Atoi(rest[1])
		pr, ok := s.prs[n]
		if !ok {
			h.notFound()
			return
		}
		if len(rest) == 3 && rest[2] == "commits" {
			var items []any
			for i, msg := range pr.Commits {
				items = append(items, map[string]any{"sha": fmt.Sprintf("%040d", i+1), "commit": map[string]any{"message": msg}})
			}
			h.page(items)
			return
		}
		var labels []any
		for _, l := range pr.Labels {
			labels = append(labels, map[string]any{"name": l})
		}
		h.ok(map[string]any{"number": pr.Number, "state": "open", "head": map[string]any{"sha": pr.HeadSHA}, "labels": labels})
	case rest[0] == "compare" && len(rest) == 2 && m == http.MethodGet:
		base, head, ok := strings.Cut(rest[1], "...")
		if !ok {
			h.notFound()
			return
		}
		bi, hi := indexOf(s.history, base), indexOf(s.history, head)
		if bi < 0 || hi < 0 {
			h.notFound()
			return
		}
		status := "identical"
		switch {
		case hi > bi:
			status = "ahead"
		case hi < bi:
			status = "behind"
		}
		h.ok(map[string]any{"status": status, "ahead_by": max(hi-bi, 0), "behind_by": max(bi-hi, 0)})
	case rest[0] == "commits" && len(rest) == 3 && rest[2] == "check-runs" && m == http.MethodGet:
		name := h.r.URL.Query().Get("check_name")
		var items []any
		for i := len(s.checkRuns) - 1; i >= 0; i-- { // newest first, as GitHub does
			c := s.checkRuns[i]
			if c.HeadSHA == rest[1] && (name == "" || c.Name == name) {
				items = append(items, h.checkRunJSON(c))
			}
		}
		start, end := h.pageBounds(len(items))
		h.ok(map[string]any{"total_count": len(items), "check_runs": nonNil(items[start:end])})
	case rest[0] == "check-runs":
		h.checkRuns(rest[1:])
	case rest[0] == "statuses" && len(rest) == 2 && m == http.MethodPost:
		var in struct {
			State, Context, Description string
			TargetURL                   string `json:"target_url"`
		}
		if !h.decode(&in) {
			return
		}
		switch in.State {
		case "pending", "success", "failure", "error":
		default:
			h.validation("state")
			return
		}
		if len([]rune(in.Description)) > 140 {
			h.validation("description")
			return
		}
		s.statuses[rest[1]] = append(s.statuses[rest[1]], Status{in.State, in.Context, in.Description, in.TargetURL})
		writeJSON(h.w, 201, map[string]any{"id": s.id(), "state": in.State, "context": in.Context, "description": in.Description, "target_url": in.TargetURL})
	default:
		h.notFound()
	}
}

func nonNil(items []any) []any {
	if items == nil {
		return []any{}
	}
	return items
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func (h *handler) validation(field string) {
	writeJSON(h.w, 422, map[string]any{"message": "Validation Failed", "errors": []any{map[string]any{"code": "invalid", "field": field}}})
}

// pageBounds applies page and per_page and sets the Link header.
func (h *handler) pageBounds(n int) (start, end int) {
	q := h.r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	if per > h.s.maxPerPage {
		per = h.s.maxPerPage
	}
	page, _ := strconv.Atoi(q.Get("page"))
	if page <= 0 {
		page = 1
	}
	start = min((page-1)*per, n)
	end = min(start+per, n)
	if end < n {
		u := *h.r.URL
		q.Set("page", strconv.Itoa(page+1))
		q.Set("per_page", strconv.Itoa(per))
		u.RawQuery = q.Encode()
		h.w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, h.s.URL, u.RequestURI()))
	}
	return start, end
}

func (h *handler) page(items []any) {
	start, end := h.pageBounds(len(items))
	h.ok(nonNil(items[start:end]))
}

// --- releases ---

func (h *handler) findRelease(idStr string) *Release {
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil {
		return nil
	}
	for _, r := range h.s.releases {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func (h *handler) releaseJSON(o, rp string, r *Release) map[string]any {
	var assets []any
	for _, a := range r.Assets {
		assets = append(assets, h.assetJSON(o, rp, a))
	}
	return map[string]any{
		"id": r.ID, "tag_name": r.Tag, "target_commitish": r.Target, "name": r.Name, "body": r.Body,
		"draft": r.Draft, "prerelease": r.Prerelease, "created_at": r.Created.Format(time.RFC3339),
		"html_url":   fmt.Sprintf("%s/%s/%s/releases/tag/%s", h.s.URL, o, rp, r.Tag),
		"url":        fmt.Sprintf("%s/repos/%s/%s/releases/%d", h.apiBase(), o, rp, r.ID),
		"upload_url": fmt.Sprintf("%s/repos/%s/%s/releases/%d/assets{?name,label}", h.uploadBase(), o, rp, r.ID),
		"assets":     nonNil(assets),
	}
}

func (h *handler) assetJSON(o, rp string, a Asset) map[string]any {
	return map[string]any{
		"id": a.ID, "name": a.Name, "label": a.Label, "size": len(a.Data), "state": "uploaded", "content_type": a.ContentType,
		"url":                  fmt.Sprintf("%s/repos/%s/%s/releases/assets/%d", h.apiBase(), o, rp, a.ID),
		"browser_download_url": fmt.Sprintf("%s/%s/%s/releases/download/%d/%s", h.s.URL, o, rp, a.ID, a.Name),
	}
}

type releaseIn struct {
	TagName         *string `json:"tag_name"`
	TargetCommitish *string `json:"target_commitish"`
	Name            *string `json:"name"`
	Body            *string `json:"body"`
	Draft           *bool   `json:"draft"`
	Prerelease      *bool   `json:"prerelease"`
	MakeLatest      *string `json:"make_latest"`
}

func (h *handler) releases(o, rp string, rest []string) {
	s, m := h.s, h.r.Method
	switch {
	case len(rest) == 0 && m == http.MethodGet:
		var items []any
		for i := len(s.releases) - 1; i >= 0; i-- { // newest first
			items = append(items, h.releaseJSON(o, rp, s.releases[i]))
		}
		h.page(items)
	case len(rest) == 0 && m == http.MethodPost:
		var in releaseIn
		if !h.decode(&in) {
			return
		}
		if in.TagName == nil || *in.TagName == "" {
			h.validation("tag_name")
			return
		}
		for _, r := range s.releases {
			if r.Tag == *in.TagName {
				AlreadyExistsWrite(h.w)
				return
			}
		}
		r := &Release{ID: s.id(), Tag: *in.TagName, Created: s.now()}
		h.apply(r, in, true)
		s.releases = append(s.releases, r)
		writeJSON(h.w, 201, h.releaseJSON(o, rp, r))
	case len(rest) == 1 && rest[0] == "latest" && m == http.MethodGet:
		for _, r := range s.releases {
			if r.Latest && !r.Draft {
				h.ok(h.releaseJSON(o, rp, r))
				return
			}
		}
		h.notFound()
	case len(rest) >= 2 && rest[0] == "tags" && m == http.MethodGet:
		tag := strings.Join(rest[1:], "/")
		for _, r := range s.releases {
			if r.Tag == tag && !r.Draft { // drafts are invisible here, as on GitHub
				h.ok(h.releaseJSON(o, rp, r))
				return
			}
		}
		h.notFound()
	case len(rest) == 2 && rest[0] == "assets":
		h.asset(o, rp, rest[1])
	case len(rest) == 1:
		r := h.findRelease(rest[0])
		if r == nil {
			h.notFound()
			return
		}
		switch m {
		case http.MethodGet:
			h.ok(h.releaseJSON(o, rp, r))
		case http.MethodPatch:
			var in releaseIn
			if !h.decode(&in) {
				return
			}
			h.apply(r, in, false)
			h.ok(h.releaseJSON(o, rp, r))
		case http.MethodDelete:
			for i, x := range s.releases {
				if x == r {
					s.releases = append(s.releases[:i:i], s.releases[i+1:]...)
					break
				}
			}
			h.w.WriteHeader(204)
		default:
			h.notFound()
		}
	case len(rest) == 2 && rest[1] == "assets" && m == http.MethodGet:
		r := h.findRelease(rest[0])
		if r == nil {
			h.notFound()
			return
		}
		var items []any
		for _, a := range r.Assets {
			items = append(items, h.assetJSON(o, rp, a))
		}
		h.page(items)
	default:
		h.notFound()
	}
}

// AlreadyExistsWrite writes GitHub's 422 already_exists answer.
func AlreadyExistsWrite(w http.ResponseWriter) {
	f := AlreadyExists()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	io.WriteString(w, f.Body)
}

// apply edits r as PATCH/POST would, creating the tag on publication.
// Publishing (or an explicit make_latest "true") makes a non-prerelease the
// latest unless make_latest is "false", GitHub's default.
func (h *handler) apply(r *Release, in releaseIn, isNew bool) {
	s := h.s
	wasDraft := isNew || r.Draft
	if in.TagName != nil {
		r.Tag = *in.TagName
	}
	if in.TargetCommitish != nil {
		r.Target = *in.TargetCommitish
	}
	if in.Name != nil {
		r.Name = *in.Name
	}
	if in.Body != nil {
		r.Body = *in.Body
	}
	if in.Draft != nil {
		r.Draft = *in.Draft
	}
	if in.Prerelease != nil {
		r.Prerelease = *in.Prerelease
	}
	if r.Draft {
		return
	}
	if _, ok := s.tags[r.Tag]; !ok {
		s.tags[r.Tag] = r.Target
	}
	switch {
	case in.MakeLatest != nil && *in.MakeLatest == "false":
	case in.MakeLatest != nil && *in.MakeLatest == "true":
		s.setLatest(r.ID)
	case wasDraft && !r.Prerelease:
		s.setLatest(r.ID)
	}
}

func (h *handler) asset(o, rp, idStr string) {
	s, m := h.s, h.r.Method
	id, _ := strconv.ParseInt(idStr, 10, 64)
	for _, r := range s.releases {
		for i, a := range r.Assets {
			if a.ID != id {
				continue
			}
			switch m {
			case http.MethodGet:
				if h.r.Header.Get("Accept") == "application/octet-stream" {
					h.w.Header().Set("Content-Type", "application/octet-stream")
					h.w.WriteHeader(200)
					h.w.Write(a.Data)
					return
				}
				h.ok(h.assetJSON(o, rp, a))
			case http.MethodDelete:
				r.Assets = append(r.Assets[:i:i], r.Assets[i+1:]...)
				h.w.WriteHeader(204)
			default:
				h.notFound()
			}
			return
		}
	}
	h.notFound()
}

func (h *handler) upload(o, rp, relID string) {
	r := h.findRelease(relID)
	if r == nil {
		h.notFound()
		return
	}
	q := h.r.URL.Query()
	name := q.Get("name")
	if name == "" {
		h.validation("name")
		return
	}
	for _, a := range r.Assets {
		if a.Name == name {
			AlreadyExistsWrite(h.w)
			return
		}
	}
	a := Asset{ID: h.s.id(), Name: name, Label: q.Get("label"), ContentType: h.r.Header.Get("Content-Type"), Data: h.body}
	r.Assets = append(r.Assets, a)
	writeJSON(h.w, 201, h.assetJSON(o, rp, a))
}

// --- comments ---

func (h *handler) author() string {
	if h.s.actionsToken {
		return ActionsLogin
	}
	return h.s.login
}

func (h *handler) commentJSON(c *Comment) map[string]any {
	return map[string]any{"id": c.ID, "body": c.Body, "user": map[string]any{"login": c.Login},
		"html_url": fmt.Sprintf("%s/comments/%d", h.s.URL, c.ID)}
}

func (h *handler) issueComments(o, rp string, n int) {
	s := h.s
	switch h.r.Method {
	case http.MethodGet:
		var items []any
		for _, c := range s.comments[n] {
			items = append(items, h.commentJSON(c))
		}
		h.page(items)
	case http.MethodPost:
		var in struct{ Body string }
		if !h.decode(&in) {
			return
		}
		c := &Comment{ID: s.id(), Login: h.author(), Body: in.Body}
		s.comments[n] = append(s.comments[n], c)
		writeJSON(h.w, 201, h.commentJSON(c))
	default:
		h.notFound()
	}
}

func (h *handler) comment(id int64) {
	s := h.s
	for n, cs := range s.comments {
		for i, c := range cs {
			if c.ID != id {
				continue
			}
			switch h.r.Method {
			case http.MethodPatch:
				var in struct{ Body string }
				if !h.decode(&in) {
					return
				}
				c.Body = in.Body
				h.ok(h.commentJSON(c))
			case http.MethodDelete:
				s.comments[n] = append(cs[:i:i], cs[i+1:]...)
				h.w.WriteHeader(204)
			default:
				h.notFound()
			}
			return
		}
	}
	h.notFound()
}

// --- check runs ---

func (h *handler) checkRunJSON(c *CheckRun) map[string]any {
	out := map[string]any{"id": c.ID, "name": c.Name, "head_sha": c.HeadSHA, "status": c.Status,
		"html_url": fmt.Sprintf("%s/runs/%d", h.s.URL, c.ID),
		"output":   map[string]any{"title": c.Title, "summary": c.Summary}}
	if c.Conclusion != "" {
		out["conclusion"] = c.Conclusion
	}
	return out
}

func (h *handler) checkRuns(rest []string) {
	s := h.s
	if s.noChecks && h.r.Method != http.MethodGet {
		h.fail(403, "Resource not accessible by integration")
		return
	}
	var in struct {
		Name        string
		HeadSHA     string  `json:"head_sha"`
		Status      *string `json:"status"`
		Conclusion  *string `json:"conclusion"`
		DetailsURL  *string `json:"details_url"`
		CompletedAt *string `json:"completed_at"`
		Output      *struct{ Title, Summary string }
	}
	switch {
	case len(rest) == 0 && h.r.Method == http.MethodPost:
		if !h.decode(&in) {
			return
		}
		c := &CheckRun{ID: s.id(), Name: in.Name, HeadSHA: in.HeadSHA, Status: "queued"}
		if !h.applyCheck(c, in.Status, in.Conclusion, in.DetailsURL, in.CompletedAt, in.Output) {
			return
		}
		s.checkRuns = append(s.checkRuns, c)
		writeJSON(h.w, 201, h.checkRunJSON(c))
	case len(rest) == 1 && h.r.Method == http.MethodPatch:
		id, _ := strconv.ParseInt(rest[0], 10, 64)
		for _, c := range s.checkRuns {
			if c.ID == id {
				if !h.decode(&in) {
					return
				}
				if in.Name != "" {
					c.Name = in.Name
				}
				if h.applyCheck(c, in.Status, in.Conclusion, in.DetailsURL, in.CompletedAt, in.Output) {
					h.ok(h.checkRunJSON(c))
				}
				return
			}
		}
		h.notFound()
	default:
		h.notFound()
	}
}

func (h *handler) applyCheck(c *CheckRun, status, conclusion, details, completed *string, out *struct{ Title, Summary string }) bool {
	if status != nil {
		c.Status = *status
	}
	if conclusion != nil {
		c.Conclusion = *conclusion
		c.Status = "completed"
	}
	if details != nil {
		c.DetailsURL = *details
	}
	if completed != nil {
		c.CompletedAtSet = true
	}
	if out != nil {
		if len([]rune(out.Summary)) > 65535 {
			h.validation("output.summary")
			return false
		}
		c.Title, c.Summary = out.Title, out.Summary
	}
	if c.Status == "completed" && c.Conclusion == "" {
		h.validation("conclusion")
		return false
	}
	return true
}

// repository answers GET /repos/{owner}/{repo}. As on GitHub, permissions
// are reported for a user's token (push false when ReadOnly) and left out
// for the Actions token.
func (h *handler) repository(owner, repo string) {
	r := map[string]any{"full_name": owner + "/" + repo, "name": repo, "default_branch": "main", "owner": map[string]any{"login": owner}}
	if !h.s.actionsToken {
		r["permissions"] = map[string]bool{"admin": false, "maintain": false, "push": !h.s.readOnly, "triage": !h.s.readOnly, "pull": true}
	}
	h.ok(r)
}
