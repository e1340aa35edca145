package dataset

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// RecordBytes is the size of one CIFAR-10 binary record: a label byte then
// the 3072-byte CHW image.
const RecordBytes = 1 + ImageBytes

// ParseRecords parses a CIFAR-10 binary batch file (a run of records). name
// is only used in errors. A file that is empty, ends in a partial record, or
// holds a label >= nClasses is an error naming the record and its offset;
// nothing is returned then.
func ParseRecords(name string, data []byte, nClasses int) (images, labels []uint8, err error) {
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("%s: no records (empty file)", name)
	}
	n := len(data) / RecordBytes
	if rem := len(data) % RecordBytes; rem != 0 {
		return nil, nil, fmt.Errorf("%s: truncated record %d at offset %d: %d of %d bytes (file is %d bytes, not a multiple of %d)",
			name, n, n*RecordBytes, rem, RecordBytes, len(data), RecordBytes)
	}
	images = make([]uint8, n*ImageBytes)
	labels = make([]uint8, n)
	for i := 0; i < n; i++ {
		rec := data[i*RecordBytes : (i+1)*RecordBytes]
		if int(rec[0]) >= nClasses {
			return nil, nil, fmt.Errorf("%s: record %d at offset %d has label %d outside 0..%d", name, i, i*RecordBytes, rec[0], nClasses-1)
		}
		labels[i] = rec[0]
		copy(images[i*ImageBytes:], rec[1:])
	}
	return images, labels, nil
}

// WriteRecords writes a split as CIFAR-10 binary records.
func WriteRecords(w io.Writer, s *Split) error {
	bw := bufio.NewWriter(w)
	for i := 0; i < s.Len(); i++ {
		if err := bw.WriteByte(s.Labels[i]); err != nil {
			return err
		}
		if _, err := bw.Write(s.Image(i)); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ParseMeta reads batches.meta.txt: one class name per line, blank lines
// ignored.
func ParseMeta(name string, data []byte) ([]string, error) {
	var classes []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			classes = append(classes, line)
		}
	}
	if len(classes) != NumClasses {
		return nil, fmt.Errorf("%s: %d class names, want %d (one per line)", name, len(classes), NumClasses)
	}
	return classes, nil
}

const (
	metaFile      = "batches.meta.txt"
	testBatchFile = "test_batch.bin"
)

var trainBatchRe = regexp.MustCompile(`^data_batch_([0-9]{1,4})\.bin$`)

// isBinaryFile reports whether a file name belongs to the binary layout.
func isBinaryFile(name string) bool {
	b := path.Base(name)
	return b == testBatchFile || trainBatchRe.MatchString(b)
}

// loadBinary reads the binary layout: data_batch_N.bin (train, in N order),
// test_batch.bin (test, optional) and batches.meta.txt (class names,
// optional: the CIFAR-10 names otherwise), all in one folder.
func loadBinary(src source, files []string) (*Dataset, error) {
	type batch struct {
		n    int
		name string
	}
	var train []batch
	var test, meta, dir string
	for _, f := range files {
		if !isBinaryFile(f) {
			continue
		}
		b := path.Base(f)
		if dir == "" {
			dir = path.Dir(f)
		} else if path.Dir(f) != dir {
			return nil, fmt.Errorf("batch files in two folders: %s and %s; keep one cifar-10-batches-bin", src.where(dir), src.where(f))
		}
		if b == testBatchFile {
			test = f
			continue
		}
		n, _ := strconv.Atoi(trainBatchRe.FindStringSubmatch(b)[1])
		train = append(train, batch{n, f})
	}
	if len(train) == 0 {
		return nil, fmt.Errorf("%s: no data_batch_N.bin training files next to %s", src.where(dir), testBatchFile)
	}
	sort.Slice(train, func(i, j int) bool { return train[i].n < train[j].n })
	for _, f := range files {
		if path.Base(f) == metaFile && path.Dir(f) == dir {
			meta = f
		}
	}

	d := &Dataset{Classes: append([]string(nil), DefaultClasses...)}
	if meta != "" {
		b, err := src.read(meta)
		if err != nil {
			return nil, err
		}
		if d.Classes, err = ParseMeta(src.where(meta), b); err != nil {
			return nil, err
		}
	}
	readSplit := func(name string, files []string) (*Split, error) {
		s := &Split{Name: name}
		for _, f := range files {
			b, err := src.read(f)
			if err != nil {
				return nil, err
			}
			imgs, labels, err := ParseRecords(src.where(f), b, len(d.Classes))
			if err != nil {
				return nil, err
			}
			if s.Labels == nil { // one batch, the usual test split: no copy
				s.Images, s.Labels = imgs, labels
				continue
			}
			s.Images = append(s.Images, imgs...)
			s.Labels = append(s.Labels, labels...)
		}
		return s, nil
	}
	names := make([]string, len(train))
	for i, b := range train {
		names[i] = b.name
	}
	var err error
	if d.Train, err = readSplit("train", names); err != nil {
		return nil, err
	}
	if test != "" {
		if d.Test, err = readSplit("test", []string{test}); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// binaryDir names the folder holding the batch files, for descriptions.
func binaryDir(files []string) string {
	for _, f := range files {
		if isBinaryFile(f) {
			return path.Dir(f)
		}
	}
	return "."
}
