// Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE, …) are macros over
// addresses of globals, which Swift cannot import: these functions hand them over.
#include <mpi.h>

static inline MPI_Comm pare_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype pare_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype pare_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Op pare_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op pare_mpi_max(void) { return MPI_MAX; }
static inline void *pare_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler pare_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
