// Pare's own kernels on oneDNN's OpenMP team. oneDNN runs its matmuls on libgomp's threads;
// when Pare's kernels run on a second set of threads, the two sets take turns on the same
// cores, and every matmul first wakes a sleeping OpenMP team (or, when that team spins, the
// spinning threads steal the cores from Pare's). Running both on one team removes the handoff.
// libgomp is oneDNN's own dependency and is found at run time, so Pare needs no OpenMP headers.
#ifndef PARE_OPENMP_H
#define PARE_OPENMP_H

/// 1 when libgomp's entry points were found (oneDNN built with GNU OpenMP), else 0.
int pare_openmp_available(void);
/// Calls fn(ctx, chunk) once for every chunk in 0..<width, spread over an OpenMP team of up
/// to `width` threads, the calling thread included; returns when all are done. A call from
/// inside a team (nested) runs every chunk on the calling thread.
void pare_openmp_run(int width, void (*fn)(void *ctx, int chunk), void *ctx);

#endif
