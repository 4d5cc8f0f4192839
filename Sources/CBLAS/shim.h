// OpenBLAS's CBLAS interface (Debian: libopenblas-dev), plus openblas_set_num_threads.
#include <cblas.h>

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
