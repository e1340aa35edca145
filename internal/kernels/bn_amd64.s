#include "textflag.h"

// AVX2 loops for bn.go. Each takes len(x) a multiple of 8 and walks the
// slices 8 floats at a time. Elementwise results use the same separate
// multiply and add as the Go loops (no FMA), so the two agree bit for bit.

// Horizontal sum of Y register a (lanes) into scalar X register a, using
// X scratch register t.
#define HSUM(a, xa, t) \
	VEXTRACTF128 $1, a, t \
	VADDPS t, xa, xa \
	VHADDPS xa, xa, xa \
	VHADDPS xa, xa, xa

// func shiftedSumsSIMD(x []float32, k float32) (s, sq float32)
TEXT ·shiftedSumsSIMD(SB), NOSPLIT, $0-40
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	SHRQ $3, CX
	VBROADCASTSS k+24(FP), Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
ss_loop2:
	CMPQ CX, $2
	JLT ss_loop1
	VMOVUPS (SI), Y5
	VMOVUPS 32(SI), Y6
	VSUBPS Y0, Y5, Y5
	VSUBPS Y0, Y6, Y6
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y3, Y3
	VFMADD231PS Y5, Y5, Y2
	VFMADD231PS Y6, Y6, Y4
	ADDQ $64, SI
	SUBQ $2, CX
	JMP ss_loop2
ss_loop1:
	CMPQ CX, $0
	JEQ ss_done
	VMOVUPS (SI), Y5
	VSUBPS Y0, Y5, Y5
	VADDPS Y5, Y1, Y1
	VFMADD231PS Y5, Y5, Y2
ss_done:
	VADDPS Y3, Y1, Y1
	VADDPS Y4, Y2, Y2
	HSUM(Y1, X1, X5)
	HSUM(Y2, X2, X5)
	VMOVSS X1, s+32(FP)
	VMOVSS X2, sq+36(FP)
	VZEROUPPER
	RET

// func scaleShiftReLUSIMD(x, y []float32, scale, shift float32)
TEXT ·scaleShiftReLUSIMD(SB), NOSPLIT, $0-56
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	SHRQ $3, CX
	VBROADCASTSS scale+48(FP), Y0
	VBROADCASTSS shift+52(FP), Y1
	VXORPS Y3, Y3, Y3
sr_loop:
	CMPQ CX, $0
	JEQ sr_done
	VMOVUPS (SI), Y8
	VMULPS Y0, Y8, Y8
	VADDPS Y1, Y8, Y8
	VMAXPS Y3, Y8, Y8
	VMOVUPS Y8, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JMP sr_loop
sr_done:
	VZEROUPPER
	RET

// func gradSumsSIMD(x, dy []float32, scale, shift, mean float32) (sb, sg float32)
TEXT ·gradSumsSIMD(SB), NOSPLIT, $0-72
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ dy_base+24(FP), DI
	SHRQ $3, CX
	VBROADCASTSS scale+48(FP), Y0
	VBROADCASTSS shift+52(FP), Y1
	VBROADCASTSS mean+56(FP), Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
gs_loop2:
	CMPQ CX, $2
	JLT gs_loop1
	VMOVUPS (SI), Y8
	VMOVUPS 32(SI), Y10
	VMULPS Y0, Y8, Y9
	VMULPS Y0, Y10, Y11
	VADDPS Y1, Y9, Y9
	VADDPS Y1, Y11, Y11
	VCMPPS $0x1e, Y3, Y9, Y9
	VCMPPS $0x1e, Y3, Y11, Y11
	VANDPS (DI), Y9, Y9
	VANDPS 32(DI), Y11, Y11
	VADDPS Y9, Y4, Y4
	VADDPS Y11, Y5, Y5
	VSUBPS Y2, Y8, Y8
	VSUBPS Y2, Y10, Y10
	VFMADD231PS Y8, Y9, Y6
	VFMADD231PS Y10, Y11, Y7
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $2, CX
	JMP gs_loop2
gs_loop1:
	CMPQ CX, $0
	JEQ gs_done
	VMOVUPS (SI), Y8
	VMULPS Y0, Y8, Y9
	VADDPS Y1, Y9, Y9
	VCMPPS $0x1e, Y3, Y9, Y9
	VANDPS (DI), Y9, Y9
	VADDPS Y9, Y4, Y4
	VSUBPS Y2, Y8, Y8
	VFMADD231PS Y8, Y9, Y6
gs_done:
	VADDPS Y5, Y4, Y4
	VADDPS Y7, Y6, Y6
	HSUM(Y4, X4, X8)
	HSUM(Y6, X6, X8)
	VMOVSS X4, sb+64(FP)
	VMOVSS X6, sg+68(FP)
	VZEROUPPER
	RET

// func inputGradSIMD(x, dy, dx []float32, scale, shift, k, a, b float32)
TEXT ·inputGradSIMD(SB), NOSPLIT, $0-92
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ dy_base+24(FP), DI
	MOVQ dx_base+48(FP), DX
	SHRQ $3, CX
	VBROADCASTSS scale+72(FP), Y0
	VBROADCASTSS shift+76(FP), Y1
	VBROADCASTSS k+80(FP), Y4
	VBROADCASTSS a+84(FP), Y5
	VBROADCASTSS b+88(FP), Y6
	VXORPS Y3, Y3, Y3
ig_loop:
	CMPQ CX, $0
	JEQ ig_done
	VMOVUPS (SI), Y8
	VMULPS Y0, Y8, Y9
	VADDPS Y1, Y9, Y9
	VCMPPS $0x1e, Y3, Y9, Y9
	VANDPS (DI), Y9, Y9
	VMULPS Y4, Y9, Y9
	VMULPS Y5, Y8, Y10
	VSUBPS Y10, Y9, Y9
	VSUBPS Y6, Y9, Y9
	VMOVUPS Y9, (DX)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	DECQ CX
	JMP ig_loop
ig_done:
	VZEROUPPER
	RET

// func pool2x2SIMD(r0, r1, y []float32, arg []int32, scale, shift float32, base0, base1 int32)
// For each of len(y) outputs j (a multiple of 8): the largest of
// t = v*scale+shift over r0[2j], r0[2j+1], r1[2j], r1[2j+1] (the first
// of equal values wins), clamped at 0, into y[j]; its index (base0+2j,
// base0+2j+1, base1+2j or base1+2j+1) into arg[j].
TEXT ·pool2x2SIMD(SB), NOSPLIT, $0-112
	MOVQ r0_base+0(FP), SI
	MOVQ r1_base+24(FP), DI
	MOVQ y_base+48(FP), DX
	MOVQ y_len+56(FP), CX
	MOVQ arg_base+72(FP), BX
	SHRQ $3, CX
	VBROADCASTSS scale+96(FP), Y14
	VBROADCASTSS shift+100(FP), Y15
	// Y8: base0 + 0, 2, ..., 14; Y9: 16; Y10: 1; Y11: base1-base0; Y12: that + 1.
	MOVL base0+104(FP), AX
	MOVL AX, X8
	VPBROADCASTD X8, Y8
	VPADDD evens<>(SB), Y8, Y8
	MOVL $16, AX
	MOVL AX, X9
	VPBROADCASTD X9, Y9
	MOVL $1, AX
	MOVL AX, X10
	VPBROADCASTD X10, Y10
	MOVL base1+108(FP), AX
	SUBL base0+104(FP), AX
	MOVL AX, X11
	VPBROADCASTD X11, Y11
	VPADDD Y10, Y11, Y12
pl_loop:
	CMPQ CX, $0
	JEQ pl_done
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS (DI), Y2
	VMOVUPS 32(DI), Y3
	VMULPS Y14, Y0, Y0
	VMULPS Y14, Y1, Y1
	VMULPS Y14, Y2, Y2
	VMULPS Y14, Y3, Y3
	VADDPS Y15, Y0, Y0
	VADDPS Y15, Y1, Y1
	VADDPS Y15, Y2, Y2
	VADDPS Y15, Y3, Y3
	// Split even and odd columns, then restore their order across lanes.
	VSHUFPS $0x88, Y1, Y0, Y4
	VSHUFPS $0xDD, Y1, Y0, Y5
	VSHUFPS $0x88, Y3, Y2, Y6
	VSHUFPS $0xDD, Y3, Y2, Y7
	VPERMPD $0xD8, Y4, Y4
	VPERMPD $0xD8, Y5, Y5
	VPERMPD $0xD8, Y6, Y6
	VPERMPD $0xD8, Y7, Y7
	// best, index = r0 even; then r0 odd, r1 even, r1 odd if strictly larger.
	VMOVDQU Y8, Y13
	VCMPPS $0x1e, Y4, Y5, Y0
	VBLENDVPS Y0, Y5, Y4, Y4
	VPADDD Y10, Y8, Y1
	VBLENDVPS Y0, Y1, Y13, Y13
	VCMPPS $0x1e, Y4, Y6, Y0
	VBLENDVPS Y0, Y6, Y4, Y4
	VPADDD Y11, Y8, Y1
	VBLENDVPS Y0, Y1, Y13, Y13
	VCMPPS $0x1e, Y4, Y7, Y0
	VBLENDVPS Y0, Y7, Y4, Y4
	VPADDD Y12, Y8, Y1
	VBLENDVPS Y0, Y1, Y13, Y13
	VXORPS Y2, Y2, Y2
	VMAXPS Y2, Y4, Y4
	VMOVUPS Y4, (DX)
	VMOVDQU Y13, (BX)
	VPADDD Y9, Y8, Y8
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $32, DX
	ADDQ $32, BX
	DECQ CX
	JMP pl_loop
pl_done:
	VZEROUPPER
	RET

DATA evens<>+0(SB)/4, $0
DATA evens<>+4(SB)/4, $2
DATA evens<>+8(SB)/4, $4
DATA evens<>+12(SB)/4, $6
DATA evens<>+16(SB)/4, $8
DATA evens<>+20(SB)/4, $10
DATA evens<>+24(SB)/4, $12
DATA evens<>+28(SB)/4, $14
GLOBL evens<>(SB), RODATA|NOPTR, $32

// func affineSIMD(x, y []float32, a, b float32)
// y = x*a + b (multiply, then add).
TEXT ·affineSIMD(SB), NOSPLIT, $0-56
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	SHRQ $3, CX
	VBROADCASTSS a+48(FP), Y0
	VBROADCASTSS b+52(FP), Y1
af_loop:
	CMPQ CX, $0
	JEQ af_done
	VMOVUPS (SI), Y2
	VMULPS Y0, Y2, Y2
	VADDPS Y1, Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JMP af_loop
af_done:
	VZEROUPPER
	RET
