package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchModel writes a model folder with size bytes of weights (a CIFAR-10
// convnet is a few MiB of float32).
func benchModel(b *testing.B, seed int64, size int) string {
	dir := b.TempDir()
	w := make([]byte, size)
	rand.New(rand.NewSource(seed)).Read(w)
	sum := sha256.Sum256(w)
	meta, _ := json.Marshal(map[string]string{"architecture": "convnet", "weights_sha256": hex.EncodeToString(sum[:])})
	if err := os.WriteFile(filepath.Join(dir, WeightsFile), w, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, MetadataFile), meta, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkPush compares a first push (every layer uploaded) with a re-push
// where only the model changed (model layer and config uploaded), both
// build + push, with the test binary standing in for model-release. It
// reports the image's bytes above the weights and the re-push/first ratio.
//
//	go test -run '^$' -bench Push -benchtime 3x ./internal/registry/
func BenchmarkPush(b *testing.B) {
	ctx := context.Background()
	bin, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	const weights = 5 << 20
	var first, again, firstPush, againPush time.Duration
	var overhead int64
	for i := 0; i < b.N; i++ {
		host, _ := newRegistry(b, "", "")
		p := NewPusher()
		m1, m2 := benchModel(b, int64(2*i), weights), benchModel(b, int64(2*i+1), weights)

		start := time.Now()
		art, err := Build(ctx, BuildOptions{ModelDir: m1, Binary: bin})
		if err != nil {
			b.Fatal(err)
		}
		pushStart := time.Now()
		if _, err := p.Push(ctx, art, host+"/bench/model", []string{"1"}); err != nil {
			b.Fatal(err)
		}
		firstPush += time.Since(pushStart)
		first += time.Since(start)
		total, w, _ := art.Sizes()
		overhead = total - w

		start = time.Now()
		art2, err := Build(ctx, BuildOptions{ModelDir: m2, Binary: bin})
		if err != nil {
			b.Fatal(err)
		}
		pushStart = time.Now()
		if _, err := p.Push(ctx, art2, host+"/bench/model", []string{"2"}); err != nil {
			b.Fatal(err)
		}
		againPush += time.Since(pushStart)
		again += time.Since(start)
	}
	b.ReportMetric(float64(first.Milliseconds())/float64(b.N), "first-ms/op")
	b.ReportMetric(float64(again.Milliseconds())/float64(b.N), "model-only-ms/op")
	b.ReportMetric(float64(again)/float64(first), "model-only/first")
	b.ReportMetric(float64(firstPush.Milliseconds())/float64(b.N), "first-push-ms/op")
	b.ReportMetric(float64(againPush.Milliseconds())/float64(b.N), "model-only-push-ms/op")
	b.ReportMetric(float64(overhead)/(1<<20), "overhead-MiB")
}
