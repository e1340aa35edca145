package gpu

// gemmCall is one column-major SGEMM as cuBLAS takes it: C = op(A)*op(B)
// with op(A) M x K and op(B) K x N. FirstIsB says the caller's B goes in
// cuBLAS's A slot (and the caller's A in its B slot).
type gemmCall struct {
	TransA, TransB bool
	M, N, K        int
	LDA, LDB, LDC  int
	FirstIsB       bool
}

// colMajor maps a row-major C = op(A)*op(B) (op(A) m x k, op(B) k x n, row
// strides lda, ldb, ldc) to cuBLAS. A row-major matrix with stride ld read as
// column-major is its transpose with the same ld, so the call computes
// Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands, their transposes and m with n.
func colMajor(transA, transB bool, m, n, k, lda, ldb, ldc int) gemmCall {
	return gemmCall{
		TransA: transB, TransB: transA,
		M: n, N: m, K: k,
		LDA: ldb, LDB: lda, LDC: ldc,
		FirstIsB: true,
	}
}
