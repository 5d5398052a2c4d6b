# Decides whether the MPI in use provides ULFM (Open MPI's ftmpi extension: mpi-ext.h with
# OMPI_HAVE_MPI_EXT_FTMPI, MPIX_Comm_shrink and MPIX_Comm_agree). Sets SAL_HAVE_ULFM to ON or OFF.
include(CheckCSourceCompiles)
include(CMakePushCheckState)

cmake_push_check_state(RESET)
set(CMAKE_REQUIRED_LIBRARIES MPI::MPI_C)
set(CMAKE_REQUIRED_QUIET ON)
check_c_source_compiles([=[
#include <mpi.h>
#include <mpi-ext.h>
#if !defined(OMPI_HAVE_MPI_EXT_FTMPI) || !OMPI_HAVE_MPI_EXT_FTMPI
#error "no ftmpi extension"
#endif
int main(void) {
  MPI_Comm c; int f = 1;
  MPIX_Comm_revoke(MPI_COMM_WORLD);
  MPIX_Comm_shrink(MPI_COMM_WORLD, &c);
  MPIX_Comm_agree(MPI_COMM_WORLD, &f);
  return MPIX_ERR_PROC_FAILED + MPIX_ERR_REVOKED;
}]=] SAL_MPI_HAS_ULFM)
cmake_pop_check_state()

string(TOUPPER "${SAL_WITH_ULFM}" _sal_ulfm)
if(_sal_ulfm STREQUAL "OFF")
  set(SAL_HAVE_ULFM OFF)
elseif(SAL_MPI_HAS_ULFM)
  set(SAL_HAVE_ULFM ON)
elseif(_sal_ulfm STREQUAL "ON")
  message(FATAL_ERROR "SAL_WITH_ULFM=ON but the MPI at ${MPI_C_COMPILER} has no ULFM "
                      "(mpi-ext.h lacks OMPI_HAVE_MPI_EXT_FTMPI/MPIX_Comm_shrink/MPIX_Comm_agree). "
                      "Use Open MPI 5 (scripts/setup.sh installs it into .venv) or SAL_WITH_ULFM=AUTO.")
else()
  set(SAL_HAVE_ULFM OFF)
endif()
message(STATUS "Salamander: ULFM ${SAL_HAVE_ULFM} (MPI: ${MPI_C_COMPILER}, mpiexec: ${MPIEXEC_EXECUTABLE})")
