package train

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// crossEntropy is -sum(target * log_softmax(logits)) over a (B,K) batch,
// as one op with its own gradient. gorgonia's LogSoftMax subtracts the
// first element of the whole batch instead of each row's maximum
// (tensor v0.9.24 softMaxLastDimF32), which overflows to NaN once logits
// grow; this op is stable and also cheaper.
func crossEntropy(logits, target *G.Node) (*G.Node, error) {
	s := logits.Shape()
	if s.Dims() != 2 || !s.Eq(target.Shape()) {
		return nil, fmt.Errorf("cross-entropy: logits %v and target %v must be the same (batch, classes) shape", s, target.Shape())
	}
	return G.ApplyOp(xentOp{b: s[0], k: s[1]}, logits, target)
}

type xentOp struct{ b, k int }

func matType() hm.Type { return G.TensorType{Dims: 2, Of: hm.TypeVariable('a')} }

func (op xentOp) Arity() int { return 2 }
func (op xentOp) Type() hm.Type {
	return hm.NewFnType(matType(), matType(), hm.TypeVariable('a'))
}
func (op xentOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (op xentOp) ReturnsPtr() bool                               { return false }
func (op xentOp) CallsExtern() bool                              { return false }
func (op xentOp) OverwritesInput() int                           { return -1 }
func (op xentOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op xentOp) Hashcode() uint32                               { return hashString(op.String()) }
func (op xentOp) String() string                                 { return fmt.Sprintf("CrossEntropy(%d,%d)", op.b, op.k) }

func (op xentOp) Do(inputs ...G.Value) (G.Value, error) {
	logits, target, err := twoF32(inputs[0], inputs[1])
	if err != nil {
		return nil, err
	}
	var loss float64
	for r := 0; r < op.b; r++ {
		row, t := logits[r*op.k:(r+1)*op.k], target[r*op.k:(r+1)*op.k]
		lse := logSumExp(row)
		for j, w := range t {
			if w != 0 {
				loss -= float64(w) * (float64(row[j]) - lse)
			}
		}
	}
	return G.NewF32(float32(loss)), nil
}

func (op xentOp) DiffWRT(int) []bool { return []bool{true, false} }

func (op xentOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(xentGradOp(op), inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d, nil}, nil
}

// xentGradOp computes d loss / d logits = (softmax(row) * sum(target row)
// - target row) * upstream gradient.
type xentGradOp xentOp

func (op xentGradOp) Arity() int { return 3 }
func (op xentGradOp) Type() hm.Type {
	return hm.NewFnType(matType(), matType(), hm.TypeVariable('a'), matType())
}
func (op xentGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.b, op.k}, nil
}
func (op xentGradOp) ReturnsPtr() bool      { return false }
func (op xentGradOp) CallsExtern() bool     { return false }
func (op xentGradOp) OverwritesInput() int  { return -1 }
func (op xentGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op xentGradOp) Hashcode() uint32      { return hashString(op.String()) }
func (op xentGradOp) String() string        { return fmt.Sprintf("CrossEntropyGrad(%d,%d)", op.b, op.k) }

func (op xentGradOp) Do(inputs ...G.Value) (G.Value, error) {
	logits, target, err := twoF32(inputs[0], inputs[1])
	if err != nil {
		return nil, err
	}
	up, ok := inputs[2].Data().(float32)
	if !ok {
		return nil, fmt.Errorf("cross-entropy gradient: upstream gradient is %T, want float32", inputs[2].Data())
	}
	out := make([]float32, op.b*op.k)
	for r := 0; r < op.b; r++ {
		row, t := logits[r*op.k:(r+1)*op.k], target[r*op.k:(r+1)*op.k]
		var tsum float64
		for _, w := range t {
			tsum += float64(w)
		}
		lse := logSumExp(row)
		for j := range row {
			p := math.Exp(float64(row[j]) - lse)
			out[r*op.k+j] = float32((p*tsum - float64(t[j])) * float64(up))
		}
	}
	return tensor.New(tensor.WithShape(op.b, op.k), tensor.WithBacking(out)), nil
}

func logSumExp(row []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(s)
}

func twoF32(a, b G.Value) ([]float32, []float32, error) {
	x, ok1 := a.Data().([]float32)
	y, ok2 := b.Data().([]float32)
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("cross-entropy: want float32 tensors, got %T and %T", a.Data(), b.Data())
	}
	return x, y, nil
}

func hashString(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
