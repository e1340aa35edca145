package gpu

// A tiny interpreter for the PTX subset kernels.ptx uses, so the kernels'
// index arithmetic can be checked on machines without a GPU. It decodes every
// instruction up front (an unknown opcode, an undeclared register or an
// undefined label is an error, as it would be for ptxas) and runs each thread
// to completion in turn, which is exact for kernels without shared memory,
// barriers or atomics.

import (
	"encoding/binary"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

type simInstr struct {
	pred    string // "" or a predicate register
	negPred bool
	op      string // full opcode, e.g. "setp.ge.u32"
	args    []string
	line    int
}

type simKernel struct {
	name   string
	params []string // names, in order
	ptypes []string // "u64" or "u32"
	regs   map[string]int
	code   []simInstr
	labels map[string]int
}

var (
	entryRe = regexp.MustCompile(`(?s)\.visible\s+\.entry\s+(\w+)\s*\((.*?)\)\s*\{(.*?)\n\}`)
	paramRe = regexp.MustCompile(`\.param\s+\.(u64|u32)\s+(\w+)`)
	regRe   = regexp.MustCompile(`\.reg\s+\.\w+\s+(%[a-z]+)<(\d+)>;`)
	labelRe = regexp.MustCompile(`^([A-Z0-9_]+):$`)
	regUse  = regexp.MustCompile(`^%([a-z]+)(\d+)$`)
)

var simOps = map[string]bool{
	"add.rn.f32": true, "add.s32": true, "add.s64": true, "add.u32": true, "bra": true,
	"cvta.to.global.u64": true, "div.u32": true, "ld.global.f32": true, "ld.global.u32": true,
	"ld.param.u32": true, "ld.param.u64": true, "mad.lo.s32": true, "mov.f32": true, "mov.u32": true,
	"mul.lo.u32": true, "mul.wide.u32": true, "or.pred": true, "rem.u32": true, "ret": true,
	"selp.f32": true, "setp.eq.u32": true, "setp.ge.s32": true, "setp.ge.u32": true,
	"setp.gt.f32": true, "setp.lt.f32": true, "setp.lt.s32": true, "setp.ne.u32": true,
	"st.global.f32": true, "st.global.u32": true, "sub.s32": true,
}

// parsePTX decodes every .entry of src.
func parsePTX(src string) (map[string]*simKernel, error) {
	// Drop // comments first.
	var clean []string
	for _, l := range strings.Split(src, "\n") {
		if i := strings.Index(l, "//"); i >= 0 {
			l = l[:i]
		}
		clean = append(clean, l)
	}
	src = strings.Join(clean, "\n")
	out := map[string]*simKernel{}
	for _, m := range entryRe.FindAllStringSubmatch(src, -1) {
		k := &simKernel{name: m[1], regs: map[string]int{}, labels: map[string]int{}}
		for _, p := range paramRe.FindAllStringSubmatch(m[2], -1) {
			k.ptypes = append(k.ptypes, p[1])
			k.params = append(k.params, p[2])
		}
		for _, r := range regRe.FindAllStringSubmatch(m[3], -1) {
			n, _ := strconv.Atoi(r[2])
			k.regs[r[1]] = n
		}
		for ln, raw := range strings.Split(m[3], "\n") {
			l := strings.TrimSpace(raw)
			if l == "" || strings.HasPrefix(l, ".reg") {
				continue
			}
			if lm := labelRe.FindStringSubmatch(l); lm != nil {
				k.labels[lm[1]] = len(k.code)
				continue
			}
			if !strings.HasSuffix(l, ";") {
				return nil, fmt.Errorf("%s line %d: missing ';': %q", k.name, ln, l)
			}
			l = strings.TrimSuffix(l, ";")
			in := simInstr{line: ln}
			if strings.HasPrefix(l, "@") {
				sp := strings.IndexByte(l, ' ')
				in.pred = l[1:sp]
				if strings.HasPrefix(in.pred, "!") {
					in.negPred, in.pred = true, in.pred[1:]
				}
				l = strings.TrimSpace(l[sp:])
			}
			op, rest, _ := strings.Cut(l, " ")
			in.op = op
			if !simOps[op] {
				return nil, fmt.Errorf("%s line %d: opcode %q is not in the simulated subset", k.name, ln, op)
			}
			for _, a := range strings.Split(rest, ",") {
				if a = strings.TrimSpace(a); a != "" {
					in.args = append(in.args, a)
				}
			}
			k.code = append(k.code, in)
		}
		// Static checks: registers declared, labels and params defined.
		for _, in := range k.code {
			all := append([]string{}, in.args...)
			if in.pred != "" {
				all = append(all, in.pred)
			}
			for _, a := range all {
				a = strings.Trim(a, "[]")
				if rm := regUse.FindStringSubmatch(a); rm != nil {
					n, _ := strconv.Atoi(rm[2])
					if lim, ok := k.regs["%"+rm[1]]; !ok || n >= lim {
						return nil, fmt.Errorf("%s line %d: register %s is not declared", k.name, in.line, a)
					}
				}
			}
			if in.op == "bra" {
				if _, ok := k.labels[in.args[0]]; !ok {
					return nil, fmt.Errorf("%s line %d: undefined label %s", k.name, in.line, in.args[0])
				}
			}
			if strings.HasPrefix(in.op, "ld.param") {
				name := strings.Trim(in.args[1], "[]")
				found := false
				for i, p := range k.params {
					if p == name {
						found = true
						if !strings.HasSuffix(in.op, k.ptypes[i]) {
							return nil, fmt.Errorf("%s line %d: %s loads %s as %s", k.name, in.line, in.op, name, k.ptypes[i])
						}
					}
				}
				if !found {
					return nil, fmt.Errorf("%s line %d: unknown parameter %s", k.name, in.line, name)
				}
			}
		}
		out[k.name] = k
	}
	return out, nil
}

// simMem is device memory: a flat byte array; pointers are offsets + base.
type simMem struct{ b []byte }

const simBase = 0x10000

func (m *simMem) alloc(n int) uint64 {
	p := uint64(len(m.b)) + simBase
	m.b = append(m.b, make([]byte, n*4)...)
	return p
}

func (m *simMem) putF(p uint64, v []float32) {
	for i, f := range v {
		binary.LittleEndian.PutUint32(m.b[p-simBase+uint64(4*i):], math.Float32bits(f))
	}
}

func (m *simMem) getF(p uint64, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(m.b[p-simBase+uint64(4*i):]))
	}
	return out
}

func (m *simMem) putI(p uint64, v []int32) {
	for i, x := range v {
		binary.LittleEndian.PutUint32(m.b[p-simBase+uint64(4*i):], uint32(x))
	}
}

func (m *simMem) getI(p uint64, n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(m.b[p-simBase+uint64(4*i):]))
	}
	return out
}

func (m *simMem) addr(a uint64, n int) (int, error) {
	if a < simBase || a-simBase+uint64(n) > uint64(len(m.b)) || a%4 != 0 {
		return 0, fmt.Errorf("address %#x out of bounds or misaligned", a)
	}
	return int(a - simBase), nil
}

// launch runs the kernel over a 1-D grid as cuLaunchKernel would.
func (k *simKernel) launch(mem *simMem, gridX, blockX int, args []uint64) error {
	if len(args) != len(k.params) {
		return fmt.Errorf("%s: %d args for %d params", k.name, len(args), len(k.params))
	}
	for b := 0; b < gridX; b++ {
		for t := 0; t < blockX; t++ {
			if err := k.thread(mem, b, blockX, t, args); err != nil {
				return fmt.Errorf("%s block %d thread %d: %w", k.name, b, t, err)
			}
		}
	}
	return nil
}

func (k *simKernel) thread(mem *simMem, ctaid, ntid, tid int, args []uint64) error {
	reg := map[string]uint64{}
	val := func(a string) (uint64, error) {
		switch a {
		case "%ctaid.x":
			return uint64(ctaid), nil
		case "%ntid.x":
			return uint64(ntid), nil
		case "%tid.x":
			return uint64(tid), nil
		}
		if strings.HasPrefix(a, "%") {
			return reg[a], nil
		}
		if strings.HasPrefix(a, "0f") {
			v, err := strconv.ParseUint(a[2:], 16, 32)
			return v, err
		}
		v, err := strconv.ParseInt(a, 10, 64)
		return uint64(v), err
	}
	f32 := func(v uint64) float32 { return math.Float32frombits(uint32(v)) }
	fbits := func(f float32) uint64 { return uint64(math.Float32bits(f)) }
	for pc, steps := 0, 0; pc < len(k.code); steps++ {
		if steps > 1_000_000 {
			return fmt.Errorf("runaway loop")
		}
		in := k.code[pc]
		pc++
		if in.pred != "" && (reg[in.pred] != 0) == in.negPred {
			continue
		}
		src := make([]uint64, len(in.args))
		for i := 1; i < len(in.args); i++ {
			a := in.args[i]
			if strings.HasPrefix(a, "[") {
				continue
			}
			v, err := val(a)
			if err != nil {
				return fmt.Errorf("line %d: operand %q: %w", in.line, a, err)
			}
			src[i] = v
		}
		dst := ""
		if len(in.args) > 0 {
			dst = in.args[0]
		}
		u := func(i int) uint32 { return uint32(src[i]) }
		s := func(i int) int32 { return int32(uint32(src[i])) }
		b2u := func(b bool) uint64 {
			if b {
				return 1
			}
			return 0
		}
		switch in.op {
		case "ret":
			return nil
		case "bra":
			pc = k.labels[in.args[0]]
		case "ld.param.u32", "ld.param.u64":
			name := strings.Trim(in.args[1], "[]")
			for i, p := range k.params {
				if p == name {
					v := args[i]
					if in.op == "ld.param.u32" {
						v = uint64(uint32(v))
					}
					reg[dst] = v
				}
			}
		case "mov.u32", "mov.f32":
			reg[dst] = uint64(uint32(src[1]))
		case "cvta.to.global.u64":
			reg[dst] = src[1]
		case "add.s64":
			reg[dst] = src[1] + src[2]
		case "add.u32", "add.s32":
			reg[dst] = uint64(u(1) + u(2))
		case "sub.s32":
			reg[dst] = uint64(uint32(s(1) - s(2)))
		case "mul.lo.u32":
			reg[dst] = uint64(u(1) * u(2))
		case "mad.lo.s32":
			reg[dst] = uint64(uint32(s(1)*s(2) + s(3)))
		case "mul.wide.u32":
			reg[dst] = uint64(u(1)) * uint64(u(2))
		case "div.u32", "rem.u32":
			if u(2) == 0 {
				return fmt.Errorf("line %d: division by zero", in.line)
			}
			if in.op == "div.u32" {
				reg[dst] = uint64(u(1) / u(2))
			} else {
				reg[dst] = uint64(u(1) % u(2))
			}
		case "setp.ge.u32":
			reg[dst] = b2u(u(1) >= u(2))
		case "setp.ne.u32":
			reg[dst] = b2u(u(1) != u(2))
		case "setp.eq.u32":
			reg[dst] = b2u(u(1) == u(2))
		case "setp.ge.s32":
			reg[dst] = b2u(s(1) >= s(2))
		case "setp.lt.s32":
			reg[dst] = b2u(s(1) < s(2))
		case "setp.gt.f32":
			reg[dst] = b2u(f32(src[1]) > f32(src[2]))
		case "setp.lt.f32":
			reg[dst] = b2u(f32(src[1]) < f32(src[2]))
		case "or.pred":
			reg[dst] = b2u(src[1] != 0 || src[2] != 0)
		case "selp.f32":
			if src[3] != 0 {
				reg[dst] = uint64(uint32(src[1]))
			} else {
				reg[dst] = uint64(uint32(src[2]))
			}
		case "add.rn.f32":
			reg[dst] = fbits(f32(src[1]) + f32(src[2]))
		case "ld.global.f32", "ld.global.u32":
			a, err := mem.addr(reg[strings.Trim(in.args[1], "[]")], 4)
			if err != nil {
				return fmt.Errorf("line %d: %s: %w", in.line, in.op, err)
			}
			reg[dst] = uint64(binary.LittleEndian.Uint32(mem.b[a:]))
		case "st.global.f32", "st.global.u32":
			a, err := mem.addr(reg[strings.Trim(in.args[0], "[]")], 4)
			if err != nil {
				return fmt.Errorf("line %d: %s: %w", in.line, in.op, err)
			}
			v, err := val(in.args[1])
			if err != nil {
				return err
			}
			binary.LittleEndian.PutUint32(mem.b[a:], uint32(v))
		default:
			return fmt.Errorf("line %d: opcode %s not simulated", in.line, in.op)
		}
	}
	return fmt.Errorf("fell off the end without ret")
}
