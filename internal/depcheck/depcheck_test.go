package depcheck

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/model-release/model-release"

// rule: packages importing a path with this prefix must be under one of allowed.
type rule struct {
	dependency string
	allowed    []string // package path prefixes relative to the module
}

var rules = []rule{
	{"gorgonia.org/", []string{"internal/model", "internal/train", "internal/evaluate", "bench/"}},
	{"github.com/google/go-github/", []string{"internal/github"}},
	{"github.com/google/go-containerregistry/", []string{"internal/registry"}},
	{"github.com/sethvargo/go-githubactions", []string{"internal/action", "cmd/"}},
	// gorgonia.org/cu exits the process at init without a GPU: never import it.
	{"gorgonia.org/cu", nil},
}

type pkg struct {
	ImportPath string
	Imports    []string
}

func TestImportRules(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, imp := range p.Imports {
			for _, r := range rules {
				if !strings.HasPrefix(imp, r.dependency) {
					continue
				}
				if r.dependency == "gorgonia.org/" && strings.HasPrefix(imp, "gorgonia.org/cu") {
					continue // covered by its own rule
				}
				if !allowed(rel, r.allowed) {
					t.Errorf("%s imports %s; only %v may", p.ImportPath, imp, r.allowed)
				}
			}
		}
	}
	if n < 5 {
		t.Fatalf("go list returned %d packages; the check saw too little to mean anything", n)
	}
}

func allowed(rel string, prefixes []string) bool {
	for _, p := range prefixes {
		if rel == strings.TrimSuffix(p, "/") || strings.HasPrefix(rel, strings.TrimSuffix(p, "/")+"/") || strings.HasPrefix(rel, p) {
			return true
		}
	}
	return false
}
