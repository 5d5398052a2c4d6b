! Salamander for Fortran: the module binds the C API of salamander.h with iso_c_binding.
!
!   use salamander
!   ierr = sal_init(MPI_COMM_WORLD)                    ! after MPI_Init
!   ierr = sal_protect('u', u, gdims, offset)          ! any rank, real32/real64/int32/int64
!   ierr = sal_begin(step)                             ! the return-code resume mode
!   do while (ierr == SAL_OK .and. step < nsteps)
!      call compute(sal_comm(), mpierr)                ! MPI calls on sal_comm() only
!      if (sal_is_proc_failure(mpierr)) then
!         ierr = SAL_ERR_PROC_FAILED
!      else
!         ierr = sal_step_done(step)
!      end if
!      if (ierr == SAL_ERR_PROC_FAILED) ierr = sal_repair(step)
!   end do
!   ierr = sal_finalize()                              ! then MPI_Finalize
!
! Every function returns SAL_OK (0) or a negative SAL_ERR_* code, as in C; sal_strerror(code) names it
! and sal_last_error() gives the detail. Communicators are Fortran INTEGER handles (those of mpif.h and
! the mpi module; with mpi_f08 pass comm%MPI_VAL and build type(MPI_Comm) :: c; c%MPI_VAL = sal_comm()).
! sal_run is not bound: its recovery unwinds the stack with longjmp, which is not safe across Fortran
! frames. Use sal_begin / sal_step_done / sal_repair.
!
! Arrays: a protected array is contiguous, has the TARGET attribute (or is a pointer or allocatable
! target) and must not move until sal_finalize. gdims, offset and count are in Fortran order (first
! index first) and offset counts from 0. The checkpoint stores the array in HDF5's row-major order:
! Fortran u(nx, ny) is the HDF5 dataset of dimensions [ny][nx], so the module reverses the order of
! the dimensions before calling C, and the files are the same as those of a C code that declares
! u[ny][nx].
module salamander
   use, intrinsic :: iso_c_binding, only: c_int, c_int64_t, c_char, c_ptr, c_loc, c_null_char, &
                                          c_f_pointer, c_associated, c_size_t
   use, intrinsic :: iso_fortran_env, only: int32, int64, real32, real64
   implicit none
   private

   public :: sal_init, sal_protect, sal_protect_scalar, sal_begin, sal_step_done, sal_repair, &
             sal_is_proc_failure, sal_checkpoint, sal_restore, sal_comm, sal_is_restart, sal_step, &
             sal_finalize, sal_strerror, sal_last_error

   ! sal_status_t (sal_error.h)
   integer, parameter, public :: SAL_OK = 0, SAL_ERR_INVALID_ARG = -1, SAL_ERR_NOMEM = -2, &
                                 SAL_ERR_IO = -3, SAL_ERR_CORRUPT = -4, SAL_ERR_NO_CKPT = -5, &
                                 SAL_ERR_PROC_FAILED = -6, SAL_ERR_MPI = -7, SAL_ERR_CONFIG = -8, &
                                 SAL_ERR_STATE = -9, SAL_ERR_UNSUPPORTED = -10, &
                                 SAL_ERR_RECOVERY = -11, SAL_ERR_ABORTED = -12, &
                                 SAL_ERR_HDF5 = -13, SAL_ERR_EXISTS = -14, SAL_ERR_NOT_FOUND = -15, &
                                 SAL_ERR_STOPPED = -16, &
                                 SAL_ERR_UNRESTORABLE = -17
   ! sal_type_t (sal_types.h)
   integer(c_int), parameter :: SAL_INT = 2, SAL_INT64 = 3, SAL_FLOAT = 4, SAL_DOUBLE = 5
   integer, parameter, public :: SAL_MAX_DIMS = 8, SAL_NAME_MAX = 64

   ! Protects an array of any rank: real(real32|real64), integer(int32|int64).
   interface sal_protect
      module procedure protect_r64, protect_r32, protect_i32, protect_i64
   end interface sal_protect

   ! Protects a scalar of this rank: real(real32|real64), integer(int32|int64).
   interface sal_protect_scalar
      module procedure scalar_r64, scalar_r32, scalar_i32, scalar_i64
   end interface sal_protect_scalar

   interface
      integer(c_int) function c_init(comm) bind(C, name='sal_init_f')
         import :: c_int
         integer(c_int), value :: comm
      end function c_init
      integer(c_int) function c_comm() bind(C, name='sal_comm_f')
         import :: c_int
      end function c_comm
      integer(c_int) function c_protect(name, base, type, ndims, gdims, offset, count) &
         bind(C, name='sal_protect')
         import :: c_int, c_int64_t, c_char, c_ptr
         character(kind=c_char), intent(in) :: name(*)
         type(c_ptr), value :: base
         integer(c_int), value :: type, ndims
         integer(c_int64_t), intent(in) :: gdims(*), offset(*), count(*)
      end function c_protect
      integer(c_int) function c_protect_scalar(name, addr, type) bind(C, name='sal_protect_scalar')
         import :: c_int, c_char, c_ptr
         character(kind=c_char), intent(in) :: name(*)
         type(c_ptr), value :: addr
         integer(c_int), value :: type
      end function c_protect_scalar
      integer(c_int) function c_begin(step) bind(C, name='sal_begin')
         import :: c_int, c_int64_t
         integer(c_int64_t), intent(out) :: step
      end function c_begin
      integer(c_int) function c_step_done(step) bind(C, name='sal_step_done')
         import :: c_int, c_int64_t
         integer(c_int64_t), intent(out) :: step
      end function c_step_done
      integer(c_int) function c_repair(step) bind(C, name='sal_repair')
         import :: c_int, c_int64_t
         integer(c_int64_t), intent(out) :: step
      end function c_repair
      integer(c_int) function c_is_proc_failure(mpi_rc) bind(C, name='sal_is_proc_failure')
         import :: c_int
         integer(c_int), value :: mpi_rc
      end function c_is_proc_failure
      integer(c_int) function c_checkpoint() bind(C, name='sal_checkpoint')
         import :: c_int
      end function c_checkpoint
      integer(c_int) function c_restore() bind(C, name='sal_restore')
         import :: c_int
      end function c_restore
      integer(c_int) function c_is_restart(flag) bind(C, name='sal_is_restart')
         import :: c_int
         integer(c_int), intent(out) :: flag
      end function c_is_restart
      integer(c_int64_t) function c_step() bind(C, name='sal_step')
         import :: c_int64_t
      end function c_step
      integer(c_int) function c_finalize() bind(C, name='sal_finalize')
         import :: c_int
      end function c_finalize
      type(c_ptr) function c_strerror(status) bind(C, name='sal_strerror')
         import :: c_ptr, c_int
         integer(c_int), value :: status
      end function c_strerror
      type(c_ptr) function c_last_error() bind(C, name='sal_last_error')
         import :: c_ptr
      end function c_last_error
      integer(c_size_t) function c_strlen(s) bind(C, name='strlen')
         import :: c_size_t, c_ptr
         type(c_ptr), value :: s
      end function c_strlen
   end interface

contains

   ! Collective over comm (a Fortran handle, normally MPI_COMM_WORLD) after MPI_Init.
   integer function sal_init(comm) result(ierr)
      integer, intent(in) :: comm
      ierr = int(c_init(int(comm, c_int)))
   end function sal_init

   ! The current resilient communicator as a Fortran handle; it changes after sal_repair.
   integer function sal_comm() result(comm)
      comm = int(c_comm())
   end function sal_comm

   integer function sal_begin(step) result(ierr)
      integer(int64), intent(out) :: step
      integer(c_int64_t) :: s
      s = 0
      ierr = int(c_begin(s))
      step = int(s, int64)
   end function sal_begin

   ! [OUT] step (optional): the new count of completed steps.
   integer function sal_step_done(step) result(ierr)
      integer(int64), intent(out), optional :: step
      integer(c_int64_t) :: s
      s = 0
      ierr = int(c_step_done(s))
      if (present(step)) step = int(s, int64)
   end function sal_step_done

   ! [OUT] step (optional): the restored step to continue from.
   integer function sal_repair(step) result(ierr)
      integer(int64), intent(out), optional :: step
      integer(c_int64_t) :: s
      s = 0
      ierr = int(c_repair(s))
      if (present(step)) step = int(s, int64)
   end function sal_repair

   ! .true. when mpierr (the ierror of an MPI call on sal_comm()) reports a failed process.
   logical function sal_is_proc_failure(mpierr) result(failed)
      integer, intent(in) :: mpierr
      failed = c_is_proc_failure(int(mpierr, c_int)) /= 0
   end function sal_is_proc_failure

   integer function sal_checkpoint() result(ierr)
      ierr = int(c_checkpoint())
   end function sal_checkpoint

   integer function sal_restore() result(ierr)
      ierr = int(c_restore())
   end function sal_restore

   ! [OUT] restart: .true. when this process resumes from a checkpoint (relaunch or replacement).
   integer function sal_is_restart(restart) result(ierr)
      logical, intent(out) :: restart
      integer(c_int) :: flag
      flag = 0
      ierr = int(c_is_restart(flag))
      restart = flag /= 0
   end function sal_is_restart

   integer(int64) function sal_step() result(step)
      step = int(c_step(), int64)
   end function sal_step

   integer function sal_finalize() result(ierr)
      ierr = int(c_finalize())
   end function sal_finalize

   function sal_strerror(status) result(text)
      integer, intent(in) :: status
      character(len=:), allocatable :: text
      text = from_c(c_strerror(int(status, c_int)))
   end function sal_strerror

   function sal_last_error() result(text)
      character(len=:), allocatable :: text
      text = from_c(c_last_error())
   end function sal_last_error

   ! ---- helpers ------------------------------------------------------------------------------------

   function from_c(p) result(text)
      type(c_ptr), intent(in) :: p
      character(len=:), allocatable :: text
      character(kind=c_char), pointer :: chars(:)
      integer :: n, k
      if (.not. c_associated(p)) then
         text = ''
         return
      end if
      n = int(c_strlen(p))
      call c_f_pointer(p, chars, [n])
      allocate (character(len=n) :: text)
      do k = 1, n
         text(k:k) = chars(k)
      end do
   end function from_c

   pure function c_name(name) result(cname)
      character(len=*), intent(in) :: name
      character(kind=c_char, len=:), allocatable :: cname
      cname = trim(name)//c_null_char
   end function c_name

   ! Checks the shape arguments of an array of rank ndims and size n, and reverses them into C order.
   integer function to_c_dims(ndims, n, gdims, offset, count, shp, cg, co, cc) result(ierr)
      integer, intent(in) :: ndims
      integer(int64), intent(in) :: n
      integer(int64), intent(in) :: gdims(:), offset(:)
      integer(int64), intent(in), optional :: count(:)
      integer(int64), intent(in) :: shp(:)
      integer(c_int64_t), intent(out) :: cg(SAL_MAX_DIMS), co(SAL_MAX_DIMS), cc(SAL_MAX_DIMS)
      integer :: k
      cg = 0
      co = 0
      cc = 0
      ierr = SAL_ERR_INVALID_ARG
      if (ndims < 1 .or. ndims > SAL_MAX_DIMS) return
      if (size(gdims) /= ndims .or. size(offset) /= ndims) return
      if (present(count)) then
         if (size(count) /= ndims) return
         if (product(count) /= n) return
      end if
      do k = 1, ndims
         cg(k) = gdims(ndims + 1 - k)
         co(k) = offset(ndims + 1 - k)
         cc(k) = shp(ndims + 1 - k)
         if (present(count)) cc(k) = count(ndims + 1 - k)
      end do
      ierr = SAL_OK
   end function to_c_dims

   integer function protect_any(name, base, type, ndims, n, gdims, offset, count, shp) result(ierr)
      character(len=*), intent(in) :: name
      type(c_ptr), intent(in) :: base
      integer(c_int), intent(in) :: type
      integer, intent(in) :: ndims
      integer(int64), intent(in) :: n, gdims(:), offset(:), shp(:)
      integer(int64), intent(in), optional :: count(:)
      integer(c_int64_t) :: cg(SAL_MAX_DIMS), co(SAL_MAX_DIMS), cc(SAL_MAX_DIMS)
      ierr = to_c_dims(ndims, n, gdims, offset, count, shp, cg, co, cc)
      if (ierr /= SAL_OK) return
      ierr = int(c_protect(c_name(name), base, type, int(ndims, c_int), cg, co, cc))
   end function protect_any

   ! sal_protect(name, a, gdims, offset [, count]): a is this rank's block of the global array of
   ! shape gdims, starting at offset (0-based, Fortran order); count defaults to shape(a).
   ! SAL_ERR_INVALID_ARG when the lengths do not match rank(a), a is a scalar or not contiguous.
   integer function protect_r64(name, a, gdims, offset, count) result(ierr)
      character(len=*), intent(in) :: name
      real(real64), intent(inout), target, contiguous :: a(..)
      integer(int64), intent(in) :: gdims(:), offset(:)
      integer(int64), intent(in), optional :: count(:)
      ierr = protect_any(name, c_loc(a), SAL_DOUBLE, rank(a), int(size(a), int64), gdims, offset, &
                         count, int(shape(a), int64))
   end function protect_r64

   integer function protect_r32(name, a, gdims, offset, count) result(ierr)
      character(len=*), intent(in) :: name
      real(real32), intent(inout), target, contiguous :: a(..)
      integer(int64), intent(in) :: gdims(:), offset(:)
      integer(int64), intent(in), optional :: count(:)
      ierr = protect_any(name, c_loc(a), SAL_FLOAT, rank(a), int(size(a), int64), gdims, offset, &
                         count, int(shape(a), int64))
   end function protect_r32

   integer function protect_i32(name, a, gdims, offset, count) result(ierr)
      character(len=*), intent(in) :: name
      integer(int32), intent(inout), target, contiguous :: a(..)
      integer(int64), intent(in) :: gdims(:), offset(:)
      integer(int64), intent(in), optional :: count(:)
      ierr = protect_any(name, c_loc(a), SAL_INT, rank(a), int(size(a), int64), gdims, offset, &
                         count, int(shape(a), int64))
   end function protect_i32

   integer function protect_i64(name, a, gdims, offset, count) result(ierr)
      character(len=*), intent(in) :: name
      integer(int64), intent(inout), target, contiguous :: a(..)
      integer(int64), intent(in) :: gdims(:), offset(:)
      integer(int64), intent(in), optional :: count(:)
      ierr = protect_any(name, c_loc(a), SAL_INT64, rank(a), int(size(a), int64), gdims, offset, &
                         count, int(shape(a), int64))
   end function protect_i64

   integer function scalar_r64(name, x) result(ierr)
      character(len=*), intent(in) :: name
      real(real64), intent(inout), target :: x
      ierr = int(c_protect_scalar(c_name(name), c_loc(x), SAL_DOUBLE))
   end function scalar_r64

   integer function scalar_r32(name, x) result(ierr)
      character(len=*), intent(in) :: name
      real(real32), intent(inout), target :: x
      ierr = int(c_protect_scalar(c_name(name), c_loc(x), SAL_FLOAT))
   end function scalar_r32

   integer function scalar_i32(name, x) result(ierr)
      character(len=*), intent(in) :: name
      integer(int32), intent(inout), target :: x
      ierr = int(c_protect_scalar(c_name(name), c_loc(x), SAL_INT))
   end function scalar_i32

   integer function scalar_i64(name, x) result(ierr)
      character(len=*), intent(in) :: name
      integer(int64), intent(inout), target :: x
      ierr = int(c_protect_scalar(c_name(name), c_loc(x), SAL_INT64))
   end function scalar_i64

end module salamander
