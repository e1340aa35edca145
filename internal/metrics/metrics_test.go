package metrics

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func valid() *Metrics {
	return &Metrics{
		Samples: 20, Accuracy: 0.5, Top3Accuracy: 0.9, MeanLoss: 1.2,
		Classes:  []string{"cat", "dog"},
		PerClass: []ClassMetrics{{Class: "cat", Precision: 0.5, Recall: 0.4, Support: 10}, {Class: "dog", Precision: 0.5, Recall: 0.6, Support: 10}},
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), FileName)
	if err := Write(p, valid()); err != nil {
		t.Fatal(err)
	}
	m, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.Schema != SchemaVersion || m.Accuracy != 0.5 || len(m.PerClass) != 2 {
		t.Fatalf("round trip = %+v", m)
	}
	if acc, ok := m.ClassAccuracy("dog"); !ok || acc != 0.6 {
		t.Errorf("ClassAccuracy(dog) = %v, %v", acc, ok)
	}
	if _, ok := m.ClassAccuracy("emu"); ok {
		t.Error("ClassAccuracy(emu) found")
	}
}

func TestValidateRejects(t *testing.T) {
	cases := map[string]func(*Metrics){
		"samples":       func(m *Metrics) { m.Samples = 0 },
		"accuracy":      func(m *Metrics) { m.Accuracy = math.NaN() },
		"top3_accuracy": func(m *Metrics) { m.Top3Accuracy = 1.1 },
		"mean_loss":     func(m *Metrics) { m.MeanLoss = math.Inf(1) },
		"cat":           func(m *Metrics) { m.PerClass[0].Recall = -0.1 },
	}
	for want, mutate := range cases {
		m := valid()
		mutate(m)
		if err := m.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Validate() = %v", want, err)
		}
	}
}

func TestParseErrorsNameFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.json")
	os.WriteFile(p, []byte(`{"accuracy": `), 0o644)
	if _, err := Read(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("truncated JSON: %v", err)
	}
	os.WriteFile(p, []byte(`{"samples": 3, "accuracy": 2}`), 0o644)
	if _, err := Read(p); err == nil || !strings.Contains(err.Error(), "accuracy is 2") {
		t.Errorf("bad accuracy: %v", err)
	}
	if _, err := Read(filepath.Join(dir, "none.json")); err == nil {
		t.Error("missing file: no error")
	}
}
