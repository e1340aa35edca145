package event

import (
	"path/filepath"
	"strings"
	"testing"
)

func fixture(name string) string { return filepath.Join("..", "..", "testdata", "events", name) }

func TestLoadFixtures(t *testing.T) {
	pr, err := Load(PullRequest, fixture("pull_request_opened.json"), "merge-sha", "refs/pull/7/merge")
	if err != nil {
		t.Fatal(err)
	}
	if pr.PRNumber != 7 || pr.SHA != "1111111111111111111111111111111111111111" || pr.IsFork() || pr.Labels[0] != "minor" {
		t.Errorf("pull request: %+v", pr)
	}
	fork, err := Load(PullRequest, fixture("pull_request_synchronize_fork.json"), "", "")
	if err != nil || !fork.IsFork() || fork.PRAction != "synchronize" {
		t.Errorf("fork: %+v, %v", fork, err)
	}
	push, err := Load(Push, fixture("push_main.json"), "", "")
	if err != nil || !push.OnDefaultBranch() || push.SHA != "3333333333333333333333333333333333333333" || len(push.Commits) != 1 || push.Commits[0] != "feat: wider convnet (#7)" {
		t.Errorf("push: %+v, %v", push, err)
	}
	tag, err := Load(Push, fixture("push_tag.json"), "", "")
	if err != nil || tag.Tag() != "v2.0.0" || tag.OnDefaultBranch() {
		t.Errorf("tag: %+v, %v", tag, err)
	}
	wd, err := Load(WorkflowDispatch, fixture("workflow_dispatch.json"), "5555", "")
	if err != nil || wd.Inputs["command"] != "run" || wd.SHA != "5555" || wd.Branch() != "main" {
		t.Errorf("dispatch: %+v, %v", wd, err)
	}
}

func TestMalformedEventsNameFileAndField(t *testing.T) {
	cases := []struct {
		name, event, body string
		want              []string
	}{
		{"missing head sha", PullRequest, "", []string{"malformed_pull_request.json", `"pull_request.head.sha"`}},
		{"not json", Push, "{", []string{"bad.json", "not valid JSON"}},
		{"no repository", Push, `{"ref":"refs/heads/main","after":"abc"}`, []string{"bad.json", `"repository.full_name"`}},
		{"push without after", Push, `{"ref":"refs/heads/main","repository":{"full_name":"o/r","default_branch":"main"}}`, []string{`"after"`}},
		{"odd ref", Push, `{"ref":"refs/notes/x","after":"abc","repository":{"full_name":"o/r"}}`, []string{`"ref"`, "refs/notes/x"}},
		{"unsupported", "issues", `{"repository":{"full_name":"o/r"}}`, []string{`"issues"`, "not supported"}},
		{"bad dispatch input", WorkflowDispatch, `{"ref":"refs/heads/main","inputs":{"x":{}},"repository":{"full_name":"o/r"}}`, []string{`"inputs.x"`}},
	}
	for _, c := range cases {
		var err error
		if c.body == "" {
			_, err = Load(c.event, fixture("malformed_pull_request.json"), "s", "")
		} else {
			_, err = Parse(c.event, "bad.json", []byte(c.body), "s", "")
		}
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %s", c.name, err, w)
			}
		}
	}
	if _, err := Load(Push, "", "", ""); err == nil || !strings.Contains(err.Error(), "GITHUB_EVENT_PATH") {
		t.Errorf("empty path: %v", err)
	}
}
