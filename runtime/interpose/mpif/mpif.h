! mpif.h of the Salamander MPI subset: used only when the MPI library has
! no Fortran bindings (for example the Open MPI wheel from PyPI). It binds
! the few MPI calls the examples make to the C API (mpif_subset.c); a
! program that includes it builds unchanged against a full MPI's mpif.h.
! Valid in fixed and free source form.
      integer MPI_SUCCESS, MPI_COMM_WORLD, MPI_PROC_NULL
      integer MPI_STATUS_SIZE
      integer MPI_INTEGER, MPI_DOUBLE_PRECISION, MPI_REAL
      integer MPI_INTEGER8
      integer MPI_MAX, MPI_MIN, MPI_SUM
      parameter (MPI_SUCCESS = 0, MPI_COMM_WORLD = 0)
      parameter (MPI_PROC_NULL = -2, MPI_STATUS_SIZE = 6)
      parameter (MPI_INTEGER = 1, MPI_DOUBLE_PRECISION = 2)
      parameter (MPI_REAL = 3, MPI_INTEGER8 = 4)
      parameter (MPI_MAX = 1, MPI_MIN = 2, MPI_SUM = 3)
