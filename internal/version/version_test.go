package version

import "testing"

func TestNext(t *testing.T) {
	tags := []string{"v1.2.3", "v1.10.0", "v1.9.9", "not-a-version", "v2", "v1.11.0-rc.1", "model-v9.0.0", "vx.y.z"}
	tests := []struct {
		name string
		in   Input
		want string
	}{
		{"first release", Input{Prefix: "v", Bump: Patch}, "v0.1.0"},
		{"first release major", Input{Prefix: "v", Bump: Major}, "v1.0.0"},
		{"patch ignores junk and pre-releases", Input{Tags: tags, Prefix: "v", Bump: Patch}, "v1.10.1"},
		{"minor", Input{Tags: tags, Prefix: "v", Bump: Minor}, "v1.11.0"},
		{"major", Input{Tags: tags, Prefix: "v", Bump: Major}, "v2.0.0"},
		{"prefix keeps model tags apart", Input{Tags: tags, Prefix: "model-v", Bump: Minor}, "model-v9.1.0"},
		{"auto label", Input{Tags: tags, Prefix: "v", Bump: Auto, Labels: []string{"bug", "release:minor"}}, "v1.11.0"},
		{"auto label beats commits", Input{Tags: tags, Prefix: "v", Labels: []string{"release:patch"}, Commits: []string{"feat!: drop"}}, "v1.10.1"},
		{"auto feat", Input{Tags: tags, Prefix: "v", Commits: []string{"fix: x", "feat(train): cosine"}}, "v1.11.0"},
		{"auto bang", Input{Tags: tags, Prefix: "v", Commits: []string{"feat: x", "refactor(api)!: rename"}}, "v2.0.0"},
		{"auto footer", Input{Tags: tags, Prefix: "v", Commits: []string{"fix: x\n\nBREAKING CHANGE: new input"}}, "v2.0.0"},
		{"auto default patch", Input{Tags: tags, Prefix: "v", Commits: []string{"chore: x", "featured thing"}}, "v1.10.1"},
		{"explicit wins", Input{Tags: tags, Prefix: "v", Bump: Major, Explicit: "v3.4.5"}, "v3.4.5"},
		{"explicit without prefix", Input{Tags: tags, Prefix: "model-v", Explicit: "3.4.5-rc.2"}, "model-v3.4.5-rc.2"},
		{"pre-release numbering", Input{Tags: tags, Prefix: "v", Bump: Minor, Prerelease: "rc"}, "v1.11.0-rc.2"},
		{"pre-release first", Input{Tags: tags, Prefix: "v", Bump: Patch, Prerelease: "rc"}, "v1.10.1-rc.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Next(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Tag != tt.want {
				t.Errorf("Next = %s (%s), want %s", got.Tag, got.Reason, tt.want)
			}
		})
	}
}

func TestNextPrevious(t *testing.T) {
	got, err := Next(Input{Tags: []string{"v0.1.0", "v0.2.0"}, Prefix: "v", Bump: Patch})
	if err != nil {
		t.Fatal(err)
	}
	if got.Previous != "v0.2.0" || got.Bump != Patch {
		t.Errorf("got previous %q bump %q", got.Previous, got.Bump)
	}
}

func TestNextErrors(t *testing.T) {
	for _, in := range []Input{
		{Prefix: "v", Bump: "huge"},
		{Prefix: "v", Explicit: "banana"},
		{Prefix: "v", Explicit: "1.2"},
		{Prefix: "v", Bump: Patch, Prerelease: "r c"},
	} {
		if _, err := Next(in); err == nil {
			t.Errorf("Next(%+v) gave no error", in)
		}
	}
}

func TestSorted(t *testing.T) {
	got := Sorted([]string{"v0.1.0", "junk", "v0.10.0", "v0.2.0", "v0.10.0-rc.1"}, "v")
	want := []string{"v0.10.0", "v0.10.0-rc.1", "v0.2.0", "v0.1.0"}
	if len(got) != len(want) {
		t.Fatalf("Sorted = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Sorted = %v, want %v", got, want)
		}
	}
}
