// A thin, cached matrix-multiply interface over oneDNN's C API (Debian: libdnnl-dev), for
// PareCore's GEMM. Row-major, BLAS-style arguments:
//   C (M, N) = alpha · op(A) (M, K) · op(B) (K, N) + beta · C,   C always f32,
// with A and B both f32 (dtype 0) or both bf16 bit patterns (dtype 1), accumulated in f32.
#ifndef PARE_ONEDNN_H
#define PARE_ONEDNN_H
#include <stdint.h>

enum { PARE_ONEDNN_F32 = 0, PARE_ONEDNN_BF16 = 1 };

/// 0 when oneDNN's CPU engine is up; otherwise a dnnl_status_t.
int pare_onednn_init(void);
/// 1 when the CPU runs bf16 matmuls natively (AVX512_BF16 or AMX), as oneDNN detects it.
int pare_onednn_native_bf16(void);
/// 1 when the CPU has AMX matrix units (as oneDNN detects it, honouring DNNL_MAX_CPU_ISA);
/// reads CPUID only, so it may run before the engine (and its OpenMP team) exists.
int pare_onednn_has_amx(void);
/// oneDNN's version and the CPU ISA it dispatches to, e.g. "oneDNN 2.6.3 (avx512_core_bf16)".
const char *pare_onednn_description(void);
/// The implementation oneDNN chose for the last primitive created with this dtype, e.g.
/// "brg:avx512_core_bf16" ("" before any).
const char *pare_onednn_last_impl(int dtype);
/// Threads oneDNN's OpenMP team may use for calls from any thread.
void pare_onednn_set_threads(int n);
/// 0 on success; otherwise a dnnl_status_t (the caller treats it as a programming error).
/// Primitives are created once per (shape, strides, transposes, alpha, beta, dtype) and
/// kept; calls are serialised.
int pare_onednn_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                     const void *A, int64_t lda, const void *B, int64_t ldb, float beta,
                     float *C, int64_t ldc, int dtype);
/// A batched product over strided operands, 3 to 5 dims: C (…, M, N) = alpha · A (…, M, K) ·
/// B (…, K, N) + beta · C, each operand given by its dims and element strides (any layout,
/// transposes included); batch dims of A or B may be 1 (broadcast over C's). 0 on success.
int pare_onednn_batched_gemm(int ndims, const int64_t *a_dims, const int64_t *a_strides, const void *A,
                             const int64_t *b_dims, const int64_t *b_strides, const void *B,
                             const int64_t *c_dims, const int64_t *c_strides, float *C,
                             float alpha, float beta, int dtype);
/// out[i] = bf16(in[i]), round to nearest even, NaN kept quiet; one thread, AVX512_BF16's
/// conversion instruction where the CPU has it (which, like oneDNN, flushes f32 denormals to
/// zero), a portable loop elsewhere.
void pare_bf16_round(uint16_t *out, const float *in, int64_t n);
/// Primitives created so far (for tests and the bench).
int pare_onednn_cached_primitives(void);

#endif
