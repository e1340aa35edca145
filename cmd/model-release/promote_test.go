package main

import (
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/model-release/model-release/internal/github/githubtest"
	"github.com/model-release/model-release/internal/promote"
)

// TestPromoteRollbackHistoryCommands runs the channel commands in-process
// against the fake GitHub and an in-memory registry.
func TestPromoteRollbackHistoryCommands(t *testing.T) {
	reg := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	image := strings.TrimPrefix(reg.URL, "http://") + "/octo/cifar"
	srv := githubtest.New(t)
	for i, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		img, _ := random.Image(128, 1)
		ref, _ := name.NewTag(image + ":" + v)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		rec, _ := json.Marshal(promote.Record{Version: v, Tag: "v" + v, Digest: d.String(), Accuracy: 0.7 + float64(i)/100,
			Gate: promote.Check{Ran: true, Passed: v != "1.2.0"}, DeployCheck: promote.Check{Ran: true, Passed: true}})
		srv.AddRelease(githubtest.Release{Tag: "v" + v, Target: strings.Repeat(string(rune('a'+i)), 40), Assets: []githubtest.Asset{{Name: promote.RecordAsset, Data: rec}}})
	}
	env := map[string]string{"GITHUB_TOKEN": githubtest.DefaultToken, "GITHUB_REPOSITORY": "octo/cifar", "GITHUB_API_URL": srv.URL,
		"GITHUB_ACTOR": "octocat", "MODEL_RELEASE_IMAGE": image}

	for _, v := range []string{"v1.0.0", "1.1.0"} {
		if out, errOut, code := runCLI(t, env, "promote", v, "--to", "stable", "--reason", "ship"); code != 0 {
			t.Fatalf("promote %s: exit %d %s", v, code, errOut)
		} else if !strings.HasPrefix(out, "stable: ") {
			t.Fatalf("promote output %q", out)
		}
	}
	if _, errOut, code := runCLI(t, env, "promote", "1.2.0", "--to", "stable"); code != 3 {
		t.Fatalf("promoting the failed 1.2.0: exit %d %s", code, errOut)
	}
	if _, _, code := runCLI(t, env, "promote", "1.2.0", "--to", "stable", "--force"); code != 2 {
		t.Fatalf("--force without --reason: exit %d, want 2", code)
	}
	if out, errOut, code := runCLI(t, env, "rollback"); code != 0 || out != "stable: 1.1.0 -> 1.0.0\n" {
		t.Fatalf("rollback: exit %d %q %s", code, out, errOut)
	}
	out, errOut, code := runCLI(t, env, "history", "--json")
	if code != 0 {
		t.Fatalf("history: exit %d %s", code, errOut)
	}
	var v promote.View
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("history --json: %v\n%s", err, out)
	}
	if len(v.Moves) != 3 || v.Moves[2].Kind != promote.KindRollback || v.Moves[0].Actor != "octocat" || len(v.Versions) != 3 {
		t.Fatalf("history %+v", v)
	}
	for _, r := range v.Versions {
		if (r.Version == "1.0.0") != (strings.Join(r.Channels, ",") == "stable") {
			t.Fatalf("version %s on channels %v", r.Version, r.Channels)
		}
	}
	if out, _, code := runCLI(t, env, "history"); code != 0 || !strings.Contains(out, "rollback") || !strings.Contains(out, "72.00%") {
		t.Fatalf("history table: exit %d\n%s", code, out)
	}
	if out, errOut, code := runCLI(t, env, "prune", "--keep-last", "1", "--keep-days", "0"); code != 0 || !strings.Contains(out, "images to delete") {
		t.Fatalf("prune plan: exit %d %q %s", code, out, errOut)
	}
}
