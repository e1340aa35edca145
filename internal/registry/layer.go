package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layerTime is the modification time of every layer entry. It is fixed
// (like ko's default SOURCE_DATE_EPOCH of 0) so that a layer's digest depends
// only on its contents; the image's "created" carries the commit time.
var layerTime = time.Unix(0, 0).UTC()

// tarEntry is one file or folder of a layer. Name has no leading slash.
type tarEntry struct {
	Name string
	Mode int64
	Dir  bool
	Data []byte
}

// buildTar writes entries as a reproducible tar: parents added, names
// sorted, owner root, fixed time, no user or group names.
func buildTar(entries []tarEntry) ([]byte, error) {
	all := map[string]tarEntry{}
	for _, e := range entries {
		e.Name = strings.Trim(path.Clean("/"+e.Name), "/")
		if e.Name == "" {
			continue
		}
		all[e.Name] = e
		for dir := path.Dir(e.Name); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if _, ok := all[dir]; !ok {
				all[dir] = tarEntry{Name: dir, Dir: true, Mode: 0o755}
			}
		}
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := all[n]
		h := &tar.Header{Name: n, Mode: e.Mode, ModTime: layerTime, Format: tar.FormatPAX}
		if e.Dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing layer entry %s: %w", n, err)
		}
		if !e.Dir {
			if _, err := tw.Write(e.Data); err != nil {
				return nil, fmt.Errorf("writing layer entry %s: %w", n, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing layer: %w", err)
	}
	return buf.Bytes(), nil
}

// memLayer is a gzip-compressed layer held in memory, hashed once. Its
// gzip stream has no name or time in the header, so it is reproducible.
type memLayer struct {
	uncompressed, compressed []byte
	mediaType                types.MediaType

	once           sync.Once
	digest, diffID v1.Hash
	err            error
}

func newTarLayer(entries []tarEntry, mt types.MediaType) (*memLayer, error) {
	raw, err := buildTar(entries)
	if err != nil {
		return nil, err
	}
	var z bytes.Buffer
	zw, err := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, fmt.Errorf("compressing layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing layer: %w", err)
	}
	return &memLayer{uncompressed: raw, compressed: z.Bytes(), mediaType: mt}, nil
}

func (l *memLayer) hash() error {
	l.once.Do(func() {
		if l.digest, _, l.err = v1.SHA256(bytes.NewReader(l.compressed)); l.err != nil {
			return
		}
		l.diffID, _, l.err = v1.SHA256(bytes.NewReader(l.uncompressed))
	})
	return l.err
}

func (l *memLayer) Digest() (v1.Hash, error) { return l.digest, l.hash() }
func (l *memLayer) DiffID() (v1.Hash, error) { return l.diffID, l.hash() }
func (l *memLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}
func (l *memLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.uncompressed)), nil
}
func (l *memLayer) Size() (int64, error)                { return int64(len(l.compressed)), nil }
func (l *memLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }
