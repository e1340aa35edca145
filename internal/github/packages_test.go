package github

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// packagesServer fakes the users, packages and pulls endpoints that
// packages.go calls, recording each request.
func packagesServer(t *testing.T, ownerType string) (*Client, *[]string) {
	var mu sync.Mutex
	var reqs []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs = append(reqs, r.Method+" "+r.URL.EscapedPath())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		p := r.URL.EscapedPath()
		switch {
		case p == "/users/acme":
			w.Write([]byte(`{"login":"acme","type":"` + ownerType + `"}`))
		case strings.HasSuffix(p, "/packages/container/model%2Fsub/versions") && r.Method == "GET":
			w.Write([]byte(`[{"id":11,"name":"sha256:aa","created_at":"2024-01-02T00:00:00Z","metadata":{"package_type":"container","container":{"tags":["1.0.0","stable"]}}},
				{"id":12,"name":"sha256:bb","metadata":{"package_type":"container","container":{"tags":[]}}}]`))
		case strings.HasSuffix(p, "/packages/container/model%2Fsub/versions/12") && r.Method == "DELETE":
			w.WriteHeader(204)
		case p == "/repos/acme/model/pulls/7":
			w.Write([]byte(`{"number":7,"state":"closed","closed_at":"2024-03-01T10:00:00Z"}`))
		default:
			w.WriteHeader(404)
			w.Write([]byte(`{"message":"Not Found"}`))
		}
	}))
	t.Cleanup(srv.Close)
	c, err := New("tok", srv.URL, "acme/model", WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	return c, &reqs
}

func TestPackageVersions(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ typ, prefix string }{{"Organization", "/orgs/acme/"}, {"User", "/users/acme/"}} {
		cl, reqs := packagesServer(t, c.typ)
		vs, err := cl.ListPackageVersions(ctx, "acme", "model/sub")
		if err != nil {
			t.Fatalf("%s: %v", c.typ, err)
		}
		if len(vs) != 2 || vs[0].ID != 11 || vs[0].Digest != "sha256:aa" || strings.Join(vs[0].Tags, ",") != "1.0.0,stable" || len(vs[1].Tags) != 0 {
			t.Fatalf("%s: versions %+v", c.typ, vs)
		}
		if err := cl.DeletePackageVersion(ctx, "acme", "model/sub", 12); err != nil {
			t.Fatalf("%s: delete: %v", c.typ, err)
		}
		last := (*reqs)[len(*reqs)-1]
		if last != "DELETE "+c.prefix+"packages/container/model%2Fsub/versions/12" {
			t.Fatalf("%s: delete went to %s", c.typ, last)
		}
	}
}

func TestPullRequestClosed(t *testing.T) {
	cl, _ := packagesServer(t, "User")
	closed, at, err := cl.PullRequestClosed(context.Background(), 7)
	if err != nil || !closed || !at.Equal(time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("closed %v at %v err %v", closed, at, err)
	}
	if closed, _, err := cl.PullRequestClosed(context.Background(), 8); err != nil || closed {
		t.Fatalf("a missing pull request: closed %v err %v", closed, err)
	}
}
