package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/exitcode"
)

func TestDataInspectDefaultsToTheEmbeddedSample(t *testing.T) {
	out, errOut, code := runCLI(t, nil, "data", "inspect", "--json", "--validation-split", "0.2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep inspectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, out)
	}
	if len(rep.Splits) != 2 || rep.Splits[0].Images != 500 || rep.Splits[1].Images != 100 {
		t.Fatalf("splits %+v, want train 500 and test 100", rep.Splits)
	}
	if rep.Splits[0].ClassCounts["cat"] != 50 || rep.Validation != 100 || rep.TrainAfterSplit != 400 {
		t.Errorf("cat count %d, validation %d/%d; want 50 and 400/100", rep.Splits[0].ClassCounts["cat"], rep.TrainAfterSplit, rep.Validation)
	}
	if !strings.HasPrefix(rep.Digest, "sha256:") || rep.ImageShape != [3]int{3, 32, 32} {
		t.Errorf("digest %q, shape %v", rep.Digest, rep.ImageShape)
	}
	if !strings.Contains(errOut, "embedded CIFAR-10 sample") {
		t.Errorf("stderr does not say the sample is used: %s", errOut)
	}
}

func TestDataInspectFolderMatchesSample(t *testing.T) {
	sample, _, _ := runCLI(t, nil, "data", "inspect")
	folder, errOut, code := runCLI(t, map[string]string{"MODEL_RELEASE_DATA": filepath.Join("..", "..", "testdata", "cifar10-sample")}, "data", "inspect")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	digest := func(s string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "digest:") {
				return l
			}
		}
		return ""
	}
	if digest(sample) == "" || digest(sample) != digest(folder) {
		t.Errorf("digest lines differ:\n%s\n%s", digest(sample), digest(folder))
	}
	if !strings.Contains(folder, "truck") || !strings.Contains(folder, "image folders") {
		t.Errorf("report lacks classes or source:\n%s", folder)
	}
}

func TestDataInspectBadDataFails(t *testing.T) {
	_, errOut, code := runCLI(t, nil, "data", "inspect", "--data", filepath.Join(t.TempDir(), "missing"))
	if code != exitcode.Error {
		t.Errorf("exit %d, want %d (%s)", code, exitcode.Error, errOut)
	}
}

func TestDataFetchPrintsCachedPath(t *testing.T) {
	body := []byte("not really an archive, fetch does not look inside")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	cache := t.TempDir()
	out, errOut, code := runCLI(t, nil, "data", "fetch", "--data", srv.URL+"/d.tar.gz", "--cache-dir", cache)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	p := strings.TrimSpace(out)
	if filepath.Dir(p) != cache {
		t.Errorf("printed %q, want a file in %s", p, cache)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != string(body) {
		t.Errorf("cached file: %q, %v", b, err)
	}
	if _, _, code := runCLI(t, nil, "data", "fetch", "--data", "some/folder"); code != exitcode.Usage {
		t.Errorf("fetch of a local path: exit %d, want usage error", code)
	}
}
