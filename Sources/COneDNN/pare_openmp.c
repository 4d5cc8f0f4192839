// See pare_openmp.h. GOMP_parallel is the entry point GCC's `#pragma omp parallel` compiles
// to (libgomp's stable ABI since GCC 4.9): fn(data) runs on every thread of the team.
#include "pare_openmp.h"
#include <dlfcn.h>
#include <pthread.h>

static void (*gomp_parallel)(void (*)(void *), void *, unsigned, unsigned);
static int (*thread_num)(void);
static int (*num_threads)(void);
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void find(void) {
    gomp_parallel = (void (*)(void (*)(void *), void *, unsigned, unsigned))dlsym(RTLD_DEFAULT, "GOMP_parallel");
    thread_num = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_thread_num");
    num_threads = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_num_threads");
}

int pare_openmp_available(void) {
    pthread_once(&once, find);
    return gomp_parallel && thread_num && num_threads;
}

typedef struct { int width; void (*fn)(void *, int); void *ctx; } job_t;

static void body(void *data) {
    const job_t *j = data;
    // The team may be smaller than asked (nested, or a thread limit): stride over the chunks.
    int n = num_threads(), t = thread_num();
    for (int c = t; c < j->width; c += n) j->fn(j->ctx, c);
}

void pare_openmp_run(int width, void (*fn)(void *ctx, int chunk), void *ctx) {
    job_t j = {width, fn, ctx};
    if (width <= 1 || !pare_openmp_available()) { for (int c = 0; c < width; c++) fn(ctx, c); return; }
    gomp_parallel(body, &j, (unsigned)width, 0);
}
