package evaluate

import (
	"context"
	"math"
	"testing"
)

// Three classes, five images; the expected numbers are worked out by hand.
//
//	img true probs            pred  top3
//	0   a    .7 .2 .1         a     yes
//	1   a    .1 .6 .3         b     yes
//	2   b    .2 .5 .3         b     yes
//	3   c    .5 .1 .4         a     yes
//	4   c    .1 .1 .8         c     yes
func fixture() ([]float32, []uint8, []string) {
	probs := []float32{
		.7, .2, .1,
		.1, .6, .3,
		.2, .5, .3,
		.5, .1, .4,
		.1, .1, .8,
	}
	return probs, []uint8{0, 0, 1, 2, 2}, []string{"a", "b", "c"}
}

func TestFromProbabilitiesHandComputed(t *testing.T) {
	probs, labels, classes := fixture()
	m, err := FromProbabilities(probs, labels, classes)
	if err != nil {
		t.Fatal(err)
	}
	wantConf := [][]int{{1, 1, 0}, {0, 1, 0}, {1, 0, 1}}
	for i := range wantConf {
		for j := range wantConf[i] {
			if m.Confusion[i][j] != wantConf[i][j] {
				t.Fatalf("confusion = %v, want %v", m.Confusion, wantConf)
			}
		}
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-6 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("accuracy", m.Accuracy, 3.0/5)
	near("top3", m.Top3Accuracy, 1)
	wantLoss := -(math.Log(.7) + math.Log(.1) + math.Log(.5) + math.Log(.4) + math.Log(.8)) / 5
	near("mean loss", m.MeanLoss, wantLoss)
	// precision: a predicted for imgs 0,3 (1 right); b for 1,2 (1 right); c for 4.
	near("precision a", m.PerClass[0].Precision, 0.5)
	near("precision b", m.PerClass[1].Precision, 0.5)
	near("precision c", m.PerClass[2].Precision, 1)
	near("recall a", m.PerClass[0].Recall, 0.5)
	near("recall b", m.PerClass[1].Recall, 1)
	near("recall c", m.PerClass[2].Recall, 0.5)
	if m.PerClass[2].Support != 2 || m.Samples != 5 {
		t.Errorf("support c = %d, samples = %d; want 2, 5", m.PerClass[2].Support, m.Samples)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("metrics do not validate: %v", err)
	}
}

func TestTop3WithFourClasses(t *testing.T) {
	// True class ranks 4th in the first image, 3rd in the second.
	probs := []float32{.4, .3, .2, .1, .1, .4, .3, .2}
	m, err := FromProbabilities(probs, []uint8{3, 3}, []string{"a", "b", "c", "d"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Top3Accuracy != 0.5 {
		t.Errorf("top3 = %v, want 0.5", m.Top3Accuracy)
	}
}

type fakePredictor struct {
	probs []float32
	k     int
	calls int
}

func (f *fakePredictor) Predict(images []uint8, n int) ([]float32, error) {
	out := f.probs[f.calls*chunk*f.k : (f.calls*chunk+n)*f.k]
	f.calls++
	return out, nil
}

func TestEvaluateChunksAndErrors(t *testing.T) {
	probs, labels, classes := fixture()
	p := &fakePredictor{probs: probs, k: 3}
	m, err := Evaluate(context.Background(), p, make([]uint8, 5*imageBytes), labels, classes)
	if err != nil {
		t.Fatal(err)
	}
	if m.Accuracy != 0.6 {
		t.Errorf("accuracy = %v, want 0.6", m.Accuracy)
	}
	if _, err := Evaluate(context.Background(), p, make([]uint8, 4*imageBytes), labels, classes); err == nil {
		t.Error("mismatched image bytes: want an error")
	}
	if _, err := FromProbabilities(probs, []uint8{0, 0, 1, 2, 7}, classes); err == nil {
		t.Error("label out of range: want an error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Evaluate(ctx, p, make([]uint8, 5*imageBytes), labels, classes); err == nil {
		t.Error("cancelled context: want an error")
	}
}
