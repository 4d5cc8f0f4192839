// See pare_onednn.h. One CPU engine and stream for the process; a table of matmul
// primitives keyed by everything that decides one, so a training step's few dozen shapes
// are created on the first step and only executed afterwards.
#include "pare_onednn.h"
#include <oneapi/dnnl/dnnl.h>
#include <dlfcn.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

enum { ND_MAX = 5 };

// Everything that decides a primitive: a 2-D product (ndims 0: M, N, K, leading dimensions and
// transposes) or a batched strided one (ndims 3..5: each operand's dims and strides).
typedef struct {
    int transA, transB, dtype, ndims;
    int64_t M, N, K, lda, ldb, ldc;
    int64_t dims[3][ND_MAX], strides[3][ND_MAX];   // src, weights, dst
    float alpha, beta;
} key_t_;

typedef struct {
    key_t_ key;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
} entry_t;

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static int init_status = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry_t *entries;
static int n_entries, cap_entries;
static char description[128];
static char last_impl[2][96];
// OpenMP's team size is a per-thread setting: each calling thread adopts `threads` on its
// first call after a change (libgomp is oneDNN's own dependency; found at run time so
// Pare needs no OpenMP headers).
static int threads = 0, generation = 0;
static _Thread_local int seen_generation = -1;
static void (*omp_set_threads)(int);

static void init_once(void) {
    init_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
    if (init_status == dnnl_success) init_status = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
    omp_set_threads = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    const dnnl_version_t *v = dnnl_version();
    const char *isa = "unknown";
    switch (dnnl_get_effective_cpu_isa()) {
        case dnnl_cpu_isa_sse41: isa = "sse41"; break;
        case dnnl_cpu_isa_avx: isa = "avx"; break;
        case dnnl_cpu_isa_avx2: isa = "avx2"; break;
        case dnnl_cpu_isa_avx2_vnni: isa = "avx2_vnni"; break;
        case dnnl_cpu_isa_avx512_core: isa = "avx512_core"; break;
        case dnnl_cpu_isa_avx512_core_vnni: isa = "avx512_core_vnni"; break;
        case dnnl_cpu_isa_avx512_core_bf16: isa = "avx512_core_bf16"; break;
        case dnnl_cpu_isa_avx512_core_amx: isa = "avx512_core_amx"; break;
        default: break;
    }
    snprintf(description, sizeof description, "oneDNN %d.%d.%d (%s)", v->major, v->minor, v->patch, isa);
}

int pare_onednn_init(void) {
    pthread_once(&once, init_once);
    return init_status;
}

int pare_onednn_native_bf16(void) {
    pare_onednn_init();
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    // The ISA values are nested bit masks: bf16 hardware is every bit of avx512_core_bf16.
    return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

int pare_onednn_has_amx(void) {
    return (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core_amx) == dnnl_cpu_isa_avx512_core_amx;
}

const char *pare_onednn_description(void) { pare_onednn_init(); return description; }
const char *pare_onednn_last_impl(int dtype) { return last_impl[dtype ? 1 : 0]; }
int pare_onednn_cached_primitives(void) { return n_entries; }

void pare_onednn_set_threads(int n) {
    pthread_mutex_lock(&lock);
    if (n != threads) { threads = n; generation++; }
    pthread_mutex_unlock(&lock);
}

enum { MAX_ENTRIES = 512 };

static void destroy(entry_t *e) {
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->a) dnnl_memory_destroy(e->a);
    if (e->b) dnnl_memory_destroy(e->b);
    if (e->c) dnnl_memory_destroy(e->c);
}

static int same_key(const key_t_ *a, const key_t_ *b) { return memcmp(a, b, sizeof *a) == 0; }

// A 2-D plain memory descriptor of `rows × cols`, row-major with leading dimension `ld`,
// or read transposed (the matrix is stored cols × rows).
static dnnl_status_t md2(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, int64_t ld, int trans, dnnl_data_type_t dt) {
    dnnl_dims_t dims = {rows, cols};
    dnnl_dims_t strides = {trans ? 1 : ld, trans ? ld : 1};
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

static dnnl_status_t create(const key_t_ *k, entry_t *e) {
    dnnl_data_type_t dt = k->dtype == PARE_ONEDNN_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t a_md, b_md, c_md;
    dnnl_status_t s;
    if (k->ndims) {
        if ((s = dnnl_memory_desc_init_by_strides(&a_md, k->ndims, k->dims[0], dt, k->strides[0]))) return s;
        if ((s = dnnl_memory_desc_init_by_strides(&b_md, k->ndims, k->dims[1], dt, k->strides[1]))) return s;
        if ((s = dnnl_memory_desc_init_by_strides(&c_md, k->ndims, k->dims[2], dnnl_f32, k->strides[2]))) return s;
    } else {
        if ((s = md2(&a_md, k->M, k->K, k->lda, k->transA, dt))) return s;
        if ((s = md2(&b_md, k->K, k->N, k->ldb, k->transB, dt))) return s;
        if ((s = md2(&c_md, k->M, k->N, k->ldc, 0, dnnl_f32))) return s;
    }
    dnnl_matmul_desc_t desc;
    if ((s = dnnl_matmul_desc_init(&desc, &a_md, &b_md, NULL, &c_md))) return s;
    dnnl_primitive_attr_t attr;
    if ((s = dnnl_primitive_attr_create(&attr))) return s;
    if (k->alpha != 1.0f) s = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha);
    dnnl_post_ops_t ops = NULL;
    if (!s && k->beta != 0.0f) {
        // beta · C is added after the product: oneDNN's "sum" post-op.
        if (!(s = dnnl_post_ops_create(&ops))) s = dnnl_post_ops_append_sum(ops, k->beta);
        if (!s) s = dnnl_primitive_attr_set_post_ops(attr, ops);
    }
    dnnl_primitive_desc_t pd = NULL;
    if (!s) s = dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL);
    if (ops) dnnl_post_ops_destroy(ops);
    dnnl_primitive_attr_destroy(attr);
    if (s) return s;
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(last_impl[k->dtype ? 1 : 0], sizeof last_impl[0], "%s", impl);
    s = dnnl_primitive_create(&e->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (s) return s;
    if ((s = dnnl_memory_create(&e->a, &a_md, engine, DNNL_MEMORY_NONE))) return s;
    if ((s = dnnl_memory_create(&e->b, &b_md, engine, DNNL_MEMORY_NONE))) return s;
    if ((s = dnnl_memory_create(&e->c, &c_md, engine, DNNL_MEMORY_NONE))) return s;
    e->key = *k;
    return dnnl_success;
}

// Finds or creates the primitive for `k` and runs it on A, B, C; calls are serialised.
static int run(const key_t_ *k, const void *A, const void *B, float *C) {
    int s;
    pthread_mutex_lock(&lock);
    if (seen_generation != generation) {
        if (omp_set_threads && threads > 0) omp_set_threads(threads);
        seen_generation = generation;
    }
    entry_t *e = NULL;
    // Newest first: a step reuses the same few shapes in order.
    for (int i = n_entries - 1; i >= 0; i--) if (same_key(&entries[i].key, k)) { e = &entries[i]; break; }
    if (!e) {
        if (n_entries == MAX_ENTRIES) {
            // Shapes that vary call after call (scoring requests of every length) would grow the
            // table without bound: drop the oldest.
            destroy(&entries[0]);
            memmove(entries, entries + 1, (size_t)(n_entries - 1) * sizeof *entries);
            n_entries--;
        }
        if (n_entries == cap_entries) {
            int cap = cap_entries ? cap_entries * 2 : 64;
            entry_t *grown = realloc(entries, (size_t)cap * sizeof *entries);
            if (!grown) { pthread_mutex_unlock(&lock); return dnnl_out_of_memory; }
            entries = grown; cap_entries = cap;
        }
        e = &entries[n_entries];
        memset(e, 0, sizeof *e);
        if ((s = create(k, e))) { destroy(e); pthread_mutex_unlock(&lock); return s; }
        n_entries++;
    }
    dnnl_memory_set_data_handle(e->a, (void *)A);
    dnnl_memory_set_data_handle(e->b, (void *)B);
    dnnl_memory_set_data_handle(e->c, C);
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c},
    };
    s = dnnl_primitive_execute(e->prim, stream, 3, args);
    if (!s) s = dnnl_stream_wait(stream);
    pthread_mutex_unlock(&lock);
    return s;
}

int pare_onednn_gemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                     const void *A, int64_t lda, const void *B, int64_t ldb, float beta,
                     float *C, int64_t ldc, int dtype) {
    int s = pare_onednn_init();
    if (s) return s;
    if (M == 0 || N == 0) return 0;
    if (K == 0) {  // an empty product: C = beta · C
        for (int64_t i = 0; i < M; i++) for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
        return 0;
    }
    key_t_ k;
    memset(&k, 0, sizeof k);  // padding takes part in the comparison
    k.transA = transA; k.transB = transB; k.dtype = dtype;
    k.M = M; k.N = N; k.K = K; k.lda = lda; k.ldb = ldb; k.ldc = ldc; k.alpha = alpha; k.beta = beta;
    return run(&k, A, B, C);
}

int pare_onednn_batched_gemm(int ndims, const int64_t *a_dims, const int64_t *a_strides, const void *A,
                             const int64_t *b_dims, const int64_t *b_strides, const void *B,
                             const int64_t *c_dims, const int64_t *c_strides, float *C,
                             float alpha, float beta, int dtype) {
    int s = pare_onednn_init();
    if (s) return s;
    if (ndims < 3 || ndims > ND_MAX) return dnnl_invalid_arguments;
    key_t_ k;
    memset(&k, 0, sizeof k);
    k.ndims = ndims; k.dtype = dtype; k.alpha = alpha; k.beta = beta;
    for (int i = 0; i < ndims; i++) {
        if (c_dims[i] == 0) return 0;
        k.dims[0][i] = a_dims[i]; k.strides[0][i] = a_strides[i];
        k.dims[1][i] = b_dims[i]; k.strides[1][i] = b_strides[i];
        k.dims[2][i] = c_dims[i]; k.strides[2][i] = c_strides[i];
    }
    return run(&k, A, B, C);
}

// --- f32 → bf16 -----------------------------------------------------------------------

static uint16_t round_one(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x0040);  // quiet NaN
    return (uint16_t)((b + 0x7fffu + ((b >> 16) & 1)) >> 16);
}

static void round_portable(uint16_t *out, const float *in, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = round_one(in[i]);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static void round_avx512bf16(uint16_t *out, const float *in, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        // The second operand fills the low 16 lanes.
        __m512bh r = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(in + i + 16), _mm512_loadu_ps(in + i));
        _mm512_storeu_si512((void *)(out + i), (__m512i)r);
    }
    for (; i < n; i++) out[i] = round_one(in[i]);
}

void pare_bf16_round(uint16_t *out, const float *in, int64_t n) {
    static int native = -1;
    if (native < 0) native = __builtin_cpu_supports("avx512bf16") ? 1 : 0;
    if (native) round_avx512bf16(out, in, n); else round_portable(out, in, n);
}
