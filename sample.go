// Package modelrelease holds the files that ship inside the model-release
// binary. It lives at the module root because //go:embed cannot reach
// parent folders.
package modelrelease

import "embed"

// SampleFS is the shipped CIFAR-10 sample in the binary layout: 500 train
// and 100 test images (50 and 10 per class) under
// testdata/cifar10-sample-bin/cifar-10-batches-bin. The same images, as the
// JPEGs they were decoded from, are in testdata/cifar10-sample. Regenerate
// both with: go run ./internal/dataset/internal/mksample
//
//go:embed testdata/cifar10-sample-bin/cifar-10-batches-bin
var SampleFS embed.FS

// SampleRoot is the folder of SampleFS that holds the batch files.
const SampleRoot = "testdata/cifar10-sample-bin/cifar-10-batches-bin"
