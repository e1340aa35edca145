package registry

import (
	"strings"
	"testing"
)

func TestVersionTag(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3":              "1.2.3",
		"1.2.3-rc.1":          "1.2.3-rc.1",
		"v1.2.3-rc.1+build.5": "1.2.3-rc.1_build.5",
	} {
		if got := VersionTag(in); got != want || !ValidTag(got) {
			t.Errorf("VersionTag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTags(t *testing.T) {
	got, err := Tags(TagSet{Version: "v2.0.0+g1", Commit: "ABCDEF0123456", PR: 42, Extra: []string{"candidate", "2.0.0_g1"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "2.0.0_g1 sha-abcdef0 pr-42 candidate" {
		t.Fatalf("tags %v", got)
	}
	if _, err := Tags(TagSet{Extra: []string{"-bad"}}); err == nil {
		t.Error("tag starting with - accepted")
	}
	if _, err := Tags(TagSet{Commit: "xyz"}); err == nil {
		t.Error("non-hex commit accepted")
	}
}

func TestRepository(t *testing.T) {
	got, err := Repository(" ghcr.io/Owner/My-Model ")
	if err != nil || got != "ghcr.io/owner/my-model" {
		t.Fatalf("got %q, %v", got, err)
	}
	for _, bad := range []string{"", "ghcr.io/o/n:tag", "ghcr.io/o/n@sha256:00", "ghcr.io/o/n n"} {
		if _, err := Repository(bad); err == nil {
			t.Errorf("Repository(%q) accepted", bad)
		}
	}
	if got, _ := Repository("localhost:5000/o/n"); got != "localhost:5000/o/n" {
		t.Errorf("port: %q", got)
	}
}
