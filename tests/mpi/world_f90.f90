! MPI_COMM_WORLD in Fortran (docs/mpi.md, "MPI_COMM_WORLD"): with the mpif.h subset of
! runtime/interpose/mpif, for an MPI without Fortran bindings, every mpi_* call goes through the C
! API and so through the wrappers that map MPI_COMM_WORLD. A sum over the ranks of MPI_COMM_WORLD
! per step, in the return-code loop, never calling sal_comm(); a process that restarts (a
! replacement) says which rank MPI_COMM_WORLD gives it. Rank 0 prints
!     world_f90: ranks=<p> checksum=<16 hex digits>
program world_f90
   use, intrinsic :: iso_fortran_env, only: int64, error_unit
   use salamander
   implicit none
   include 'mpif.h'
   integer, parameter :: nsteps = 200
   integer :: ierr, rc, rank, nranks
   integer(int64) :: step, contrib, total
   integer(int64), target :: acc
   logical :: restarted

   call mpi_init(ierr)
   call check(sal_init(MPI_COMM_WORLD), 'sal_init')
   acc = 0
   call check(sal_protect_scalar('acc', acc), 'sal_protect_scalar')
   call mpi_comm_rank(MPI_COMM_WORLD, rank, ierr)
   call mpi_comm_size(MPI_COMM_WORLD, nranks, ierr)
   rc = sal_is_restart(restarted)
   if (restarted) write (*, '(a,i0,a,i0,a)') 'world_f90: MPI_COMM_WORLD is rank ', rank, ' of ', &
      nranks, ' in this restarted process'

   rc = sal_begin(step)
   do while (rc == SAL_OK .and. step < nsteps)
      call mpi_comm_rank(MPI_COMM_WORLD, rank, ierr)
      contrib = int(rank + 1, int64)*(step + 1)
      call mpi_allreduce(contrib, total, 1, MPI_INTEGER8, MPI_SUM, MPI_COMM_WORLD, ierr)
      if (ierr == MPI_SUCCESS) then
         acc = acc + total
         rc = sal_step_done(step)
      else if (sal_is_proc_failure(ierr)) then
         rc = sal_repair(step)
      else
         rc = SAL_ERR_MPI
      end if
   end do
   call check(rc, 'the return-code loop')

   call mpi_comm_rank(MPI_COMM_WORLD, rank, ierr)
   if (rank == 0) write (*, '(a,i0,a,z16.16)') 'world_f90: ranks=', nranks, ' checksum=', acc
   rc = sal_finalize()
   call mpi_finalize(ierr)

contains

   ! A failed Salamander call ends the whole job (MPI_COMM_WORLD: the current world).
   subroutine check(status, what)
      integer, intent(in) :: status
      character(len=*), intent(in) :: what
      if (status == SAL_OK) return
      write (error_unit, '(4a)') 'world_f90: ', what, ': ', sal_last_error()
      call mpi_abort(MPI_COMM_WORLD, 1, ierr)
   end subroutine check

end program world_f90
