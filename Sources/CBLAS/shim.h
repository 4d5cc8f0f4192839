// OpenBLAS's CBLAS interface (Debian: libopenblas-dev), plus openblas_set_num_threads.
#include <cblas.h>

// LAPACK's Cholesky solve (OpenBLAS carries LAPACK): A X = B for symmetric positive definite
// A (n, n); B (n, nrhs) column-major, overwritten by X. info > 0: A is not positive definite.
void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b, const int *ldb, int *info);

// The vector ISA this CPU has, for checking the kernel OpenBLAS picked against it
// (0 SSE only, 1 AVX, 2 AVX2 with FMA, 3 AVX-512 F/BW/VL).
static inline int pare_cpu_vector_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
    if (__builtin_cpu_supports("avx")) return 1;
#endif
    return 0;
}
