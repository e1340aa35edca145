package model

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
)

// Tensor is one named float32 array, stored row-major in PyTorch's layout
// (convolution weights (O,C,KH,KW), linear weights (out,in)).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Size is the number of elements the shape holds.
func shapeSize(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Clone returns a deep copy, so callers can keep a snapshot of weights that
// an optimizer keeps updating in place.
func (t Tensor) Clone() Tensor {
	return Tensor{Name: t.Name, Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// maxHeader bounds the JSON header so a corrupt length cannot make us
// allocate gigabytes (the reference implementation uses 100 MB).
const maxHeader = 100 << 20

type stEntry struct {
	DType       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

// WriteSafetensors writes tensors in the safetensors format: an 8-byte
// little-endian header length, a JSON header, then the raw little-endian
// data in the order given. meta becomes the "__metadata__" entry.
func WriteSafetensors(w io.Writer, tensors []Tensor, meta map[string]string) error {
	header := make(map[string]any, len(tensors)+1)
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	off := 0
	for _, t := range tensors {
		if t.Name == "" || t.Name == "__metadata__" {
			return fmt.Errorf("safetensors: invalid tensor name %q", t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("safetensors: duplicate tensor name %q", t.Name)
		}
		if shapeSize(t.Shape) != len(t.Data) {
			return fmt.Errorf("safetensors: tensor %q has shape %v but %d values", t.Name, t.Shape, len(t.Data))
		}
		end := off + 4*len(t.Data)
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = stEntry{DType: "F32", Shape: shape, DataOffsets: [2]int{off, end}}
		off = end
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: encoding header: %w", err)
	}
	// Pad the header with spaces to 8 bytes so the data is aligned, as the
	// reference writer does.
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
	}
	buf := make([]byte, 8, 8+len(hb)+off)
	binary.LittleEndian.PutUint64(buf, uint64(len(hb)))
	buf = append(buf, hb...)
	for _, t := range tensors {
		for _, v := range t.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("safetensors: writing: %w", err)
	}
	return nil
}

// ErrMalformed is wrapped by every error about a file that is not valid
// safetensors, so callers can tell corruption from I/O problems.
var ErrMalformed = errors.New("malformed safetensors file")

// ReadSafetensors parses a whole safetensors file. Tensors come back sorted
// by data offset (the order they were written in). Only F32 is supported,
// since that is all this project writes.
func ReadSafetensors(b []byte) ([]Tensor, map[string]string, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	if len(b) < 8 {
		return nil, nil, bad("file is %d bytes, shorter than the 8-byte header length (truncated?)", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > maxHeader {
		return nil, nil, bad("header length %d is over the %d-byte limit (not a safetensors file?)", n, maxHeader)
	}
	if uint64(len(b)-8) < n {
		return nil, nil, bad("header needs %d bytes but only %d follow (truncated?)", n, len(b)-8)
	}
	hb := b[8 : 8+n]
	data := b[8+n:]
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hb))
	if err := dec.Decode(&raw); err != nil {
		return nil, nil, bad("header is not a JSON object: %v", err)
	}
	var meta map[string]string
	tensors := make([]Tensor, 0, len(raw))
	offsets := make(map[string][2]int, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, bad("__metadata__ is not a map of strings: %v", err)
			}
			continue
		}
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, nil, bad("tensor %q: %v", name, err)
		}
		if e.DType != "F32" {
			return nil, nil, bad("tensor %q has dtype %q; only F32 is supported", name, e.DType)
		}
		for _, d := range e.Shape {
			if d < 0 {
				return nil, nil, bad("tensor %q has negative dimension in shape %v", name, e.Shape)
			}
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin < 0 || end < begin || end > len(data) {
			return nil, nil, bad("tensor %q data_offsets [%d,%d] fall outside the %d data bytes (truncated?)", name, begin, end, len(data))
		}
		if want := 4 * shapeSize(e.Shape); end-begin != want {
			return nil, nil, bad("tensor %q has %d data bytes, shape %v needs %d", name, end-begin, e.Shape, want)
		}
		vals := make([]float32, (end-begin)/4)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[begin+4*i:]))
		}
		tensors = append(tensors, Tensor{Name: name, Shape: e.Shape, Data: vals})
		offsets[name] = e.DataOffsets
	}
	sort.Slice(tensors, func(i, j int) bool { return offsets[tensors[i].Name][0] < offsets[tensors[j].Name][0] })
	// The format requires the data buffer to be fully covered without holes.
	pos := 0
	for _, t := range tensors {
		o := offsets[t.Name]
		if o[0] != pos {
			return nil, nil, bad("tensor %q starts at byte %d, want %d (overlapping or gaps in data)", t.Name, o[0], pos)
		}
		pos = o[1]
	}
	if pos != len(data) {
		return nil, nil, bad("%d data bytes follow the last tensor (trailing garbage)", len(data)-pos)
	}
	return tensors, meta, nil
}
