! heat2d_f90: the Fortran version of examples/heat2d/heat2d.c, in the return-code resume mode.
!
! Same grid, initial field, boundary values, Jacobi sweep, process grid and block decomposition as
! heat2d.c, so for the same N, steps and ranks it prints the same line, bit for bit:
!     heat2d: N=<n> steps=<s> ranks=<p> checksum=<16 hex digits> sum=<%.17g>
! checksum is the 64-bit FNV-1a hash of the global field's bytes in C (row-major) order and sum the
! sum of its values in that order.
!
! Layout: the global field of heat2d.c is u[N][N] (row i, column j); here it is u(N, N) indexed
! u(j, i), so both have the same bytes in memory and in the checkpoint. This rank's block is
! u(cols, rows); sal_protect takes the shapes in Fortran order and reverses them for HDF5.
!
! MPI comes from mpif.h (the subset of runtime/interpose/mpif when the MPI has no Fortran
! bindings). Every MPI call on the resilient communicator checks ierror: after a process failure it
! returns an error (sal_is_proc_failure) and the loop calls sal_repair, which rolls every rank
! back to the last committed checkpoint.
!
! Usage: heat2d_f90 [-n N] [-s STEPS] [--sleep-ms MS] [--loop rc]
! Defaults come from HEAT2D_N, HEAT2D_STEPS and HEAT2D_SLEEP_MS, else 256, 300 and 0.
module heat2d_mod
   use, intrinsic :: iso_fortran_env, only: int8, int64, real64, error_unit, output_unit
   use, intrinsic :: iso_c_binding, only: c_int
   use salamander
   implicit none
   private
   public :: heat, parse_args, setup, heat_step, report, usleep

   include 'mpif.h'

   real(real64), parameter :: TOP_EDGE = 100.0_real64, HOT_SPOT = 80.0_real64

   type :: heat
      integer :: n = 256
      integer(int64) :: steps = 300
      integer :: sleep_ms = 0
      integer :: nranks = 0, rank = 0
      integer :: dims(2) = 0           ! dims(1) rows of ranks, dims(2) columns
      integer :: rows = 0, cols = 0    ! this rank's block
      integer :: row0 = 0, col0 = 0    ! global (0-based) index of its first point
      real(real64), allocatable :: u(:, :), next(:, :)  ! (cols, rows)
      real(real64), allocatable :: north(:), south(:), west(:), east(:), side_w(:), side_e(:)
      real(real64) :: residual = 0
   end type heat

   interface
      integer(c_int) function usleep(usec) bind(C, name='usleep')
         import :: c_int
         integer(c_int), value :: usec
      end function usleep
   end interface

contains

   ! Part i (0-based) of n points split into parts nearly equal blocks: [off, off + len).
   subroutine split(n, parts, i, len, off)
      integer, intent(in) :: n, parts, i
      integer, intent(out) :: len, off
      integer :: q, r
      q = n/parts
      r = mod(n, parts)
      len = q
      if (i < r) len = q + 1
      off = i*q + min(i, r)
   end subroutine split

   subroutine block_of(h, r, rows, cols, row0, col0)
      type(heat), intent(in) :: h
      integer, intent(in) :: r
      integer, intent(out) :: rows, cols, row0, col0
      call split(h%n, h%dims(1), r/h%dims(2), rows, row0)
      call split(h%n, h%dims(2), mod(r, h%dims(2)), cols, col0)
   end subroutine block_of

   ! Initial value at global point (i, j), 0-based: a hot disc of radius n/8 centred at (n/2, n/3).
   real(real64) function initial(n, i, j)
      integer, intent(in) :: n, i, j
      integer(int64) :: di, dj, r
      di = i - n/2
      dj = j - n/3
      r = n/8
      initial = 0.0_real64
      if (di*di + dj*dj <= r*r) initial = HOT_SPOT
   end function initial

   ! Local: lays out this rank's block and allocates its buffers. Returns 0, or -1 with a message.
   integer function setup(h, comm) result(rc)
      type(heat), intent(inout) :: h
      integer, intent(in) :: comm
      integer :: ierr, i, j
      rc = -1
      call mpi_comm_size(comm, h%nranks, ierr)
      call mpi_comm_rank(comm, h%rank, ierr)
      h%dims = 0
      call mpi_dims_create(h%nranks, 2, h%dims, ierr)
      if (h%n < h%dims(1) .or. h%n < h%dims(2)) then
         write (error_unit, '(a,i0,a,i0,a,i0,a)') 'heat2d_f90: N=', h%n, &
            ' is too small for a ', h%dims(1), ' x ', h%dims(2), ' process grid'
         return
      end if
      call block_of(h, h%rank, h%rows, h%cols, h%row0, h%col0)
      allocate (h%u(h%cols, h%rows), h%next(h%cols, h%rows))
      allocate (h%north(h%cols), h%south(h%cols), h%west(h%rows), h%east(h%rows))
      allocate (h%side_w(h%rows), h%side_e(h%rows))
      do i = 1, h%rows
         do j = 1, h%cols
            h%u(j, i) = initial(h%n, h%row0 + i - 1, h%col0 + j - 1)
         end do
      end do
      rc = 0
   end function setup

   ! Collective over comm: fills the four halos from the neighbours or the fixed boundary values
   ! (a receive from MPI_PROC_NULL leaves the buffer as it is). Returns the first MPI error.
   integer function exchange_halos(h, comm) result(mrc)
      type(heat), intent(inout) :: h
      integer, intent(in) :: comm
      integer :: pr, pc, north, south, west, east, status(MPI_STATUS_SIZE), ierr(4), k
      pr = h%rank/h%dims(2)
      pc = mod(h%rank, h%dims(2))
      north = merge(h%rank - h%dims(2), MPI_PROC_NULL, pr > 0)
      south = merge(h%rank + h%dims(2), MPI_PROC_NULL, pr < h%dims(1) - 1)
      west = merge(h%rank - 1, MPI_PROC_NULL, pc > 0)
      east = merge(h%rank + 1, MPI_PROC_NULL, pc < h%dims(2) - 1)
      h%north = TOP_EDGE
      h%south = 0.0_real64
      h%west = 0.0_real64
      h%east = 0.0_real64
      h%side_w = h%u(1, :)
      h%side_e = h%u(h%cols, :)
      ! Tags name the direction of travel, as in heat2d.c.
      call mpi_sendrecv(h%u(:, 1), h%cols, MPI_DOUBLE_PRECISION, north, 0, h%south, h%cols, &
                        MPI_DOUBLE_PRECISION, south, 0, comm, status, ierr(1))
      call mpi_sendrecv(h%u(:, h%rows), h%cols, MPI_DOUBLE_PRECISION, south, 1, h%north, h%cols, &
                        MPI_DOUBLE_PRECISION, north, 1, comm, status, ierr(2))
      call mpi_sendrecv(h%side_w, h%rows, MPI_DOUBLE_PRECISION, west, 2, h%east, h%rows, &
                        MPI_DOUBLE_PRECISION, east, 2, comm, status, ierr(3))
      call mpi_sendrecv(h%side_e, h%rows, MPI_DOUBLE_PRECISION, east, 3, h%west, h%rows, &
                        MPI_DOUBLE_PRECISION, west, 3, comm, status, ierr(4))
      mrc = MPI_SUCCESS
      do k = 4, 1, -1
         if (ierr(k) /= MPI_SUCCESS) mrc = ierr(k)
      end do
   end function exchange_halos

   ! One Jacobi sweep into next, copied back into u, in the order of heat2d.c. The largest change.
   real(real64) function sweep(h) result(change)
      type(heat), intent(inout) :: h
      real(real64) :: vn, vs, vw, ve
      integer :: i, j
      change = 0.0_real64
      do i = 1, h%rows
         do j = 1, h%cols
            if (i > 1) then
               vn = h%u(j, i - 1)
            else
               vn = h%north(j)
            end if
            if (i < h%rows) then
               vs = h%u(j, i + 1)
            else
               vs = h%south(j)
            end if
            if (j > 1) then
               vw = h%u(j - 1, i)
            else
               vw = h%west(i)
            end if
            if (j < h%cols) then
               ve = h%u(j + 1, i)
            else
               ve = h%east(i)
            end if
            h%next(j, i) = 0.25_real64*((vn + vs) + (vw + ve))
            change = max(change, abs(h%next(j, i) - h%u(j, i)))
         end do
      end do
      h%u = h%next
   end function sweep

   ! One step on comm: SAL_OK, SAL_ERR_PROC_FAILED (call sal_repair), SAL_ERR_MPI or
   ! SAL_ERR_UNSUPPORTED (the communicator was shrunk: this example needs respawn or spares).
   integer function heat_step(h, comm) result(rc)
      type(heat), intent(inout) :: h
      integer, intent(in) :: comm
      integer :: size, rank, mrc, ierr
      real(real64) :: change(1), residual(1)
      call mpi_comm_size(comm, size, ierr)
      call mpi_comm_rank(comm, rank, ierr)
      if (size /= h%nranks .or. rank /= h%rank) then
         write (error_unit, '(a,i0,a,i0,a,i0,a,i0,a)') 'heat2d_f90: rank ', h%rank, ' of ', &
            h%nranks, ' is now rank ', rank, ' of ', size, &
            '; this example needs the respawn or spares repair policy'
         rc = SAL_ERR_UNSUPPORTED
         return
      end if
      mrc = exchange_halos(h, comm)
      if (mrc == MPI_SUCCESS) then
         change(1) = sweep(h)
         call mpi_allreduce(change, residual, 1, MPI_DOUBLE_PRECISION, MPI_MAX, comm, mrc)
         h%residual = residual(1)
      end if
      if (mrc /= MPI_SUCCESS) then
         rc = merge(SAL_ERR_PROC_FAILED, SAL_ERR_MPI, sal_is_proc_failure(mrc))
         return
      end if
      if (h%sleep_ms > 0) ierr = int(usleep(int(h%sleep_ms*1000, c_int)))
      rc = SAL_OK
   end function heat_step

   ! 64-bit FNV-1a over bytes, with the hash kept as two 32-bit halves in int64 so that no
   ! intermediate overflows: prime = 2**40 + 435, so h * prime = (h << 40) + h * 435 (mod 2**64).
   subroutine fnv1a(bytes, hi, lo)
      integer(int8), intent(in) :: bytes(:)
      integer(int64), intent(out) :: hi, lo
      integer(int64), parameter :: B32 = 4294967296_int64, B24 = 16777216_int64
      integer(int64) :: t
      integer(int64) :: k
      hi = int(z'CBF29CE4', int64)
      lo = int(z'84222325', int64)
      do k = 1, size(bytes, kind=int64)
         lo = ieor(lo, iand(int(bytes(k), int64), 255_int64))
         t = lo*435_int64
         hi = mod(hi*435_int64 + t/B32 + mod(lo, B24)*256_int64, B32)
         lo = mod(t, B32)
      end do
   end subroutine fnv1a

   ! x as C's printf("%.17g", x) writes it: 17 significant digits, fixed notation when the decimal
   ! exponent is in [-4, 17), trailing zeros and a trailing point removed.
   function g17(x) result(text)
      real(real64), intent(in) :: x
      character(len=:), allocatable :: text
      character(len=40) :: buf
      character(len=17) :: d
      character(len=:), allocatable :: frac, sign
      integer :: e, p
      if (x == 0.0_real64) then
         text = '0'
         return
      end if
      write (buf, '(es26.16e4)') abs(x)
      buf = adjustl(buf)
      d = buf(1:1)//buf(3:18)
      read (buf(20:), *) e
      sign = merge('-', ' ', x < 0)
      sign = trim(sign)
      if (e >= -4 .and. e < 17) then
         if (e >= 0) then
            text = d(1:e + 1)
            frac = d(e + 2:)
         else
            text = '0'
            frac = repeat('0', -e - 1)//d
         end if
      else
         text = d(1:1)
         frac = d(2:)
      end if
      p = len(frac)
      do while (p > 0)
         if (frac(p:p) /= '0') exit
         p = p - 1
      end do
      if (p > 0) text = text//'.'//frac(1:p)
      if (e < -4 .or. e >= 17) then
         write (buf, '(i0)') abs(e)
         if (abs(e) < 10) buf = '0'//trim(buf)
         text = text//'e'//merge('-', '+', e < 0)//trim(buf)
      end if
      text = sign//text
   end function g17

   function lower_hex(v) result(text)
      integer(int64), intent(in) :: v
      character(len=8) :: text
      integer :: k
      write (text, '(z8.8)') v
      do k = 1, 8
         if (text(k:k) >= 'A' .and. text(k:k) <= 'F') text(k:k) = achar(iachar(text(k:k)) + 32)
      end do
   end function lower_hex

   ! Collective over comm: gathers the blocks on rank 0, which prints the result line. 0 or -1.
   integer function report(h, comm) result(rc)
      type(heat), intent(in) :: h
      integer, intent(in) :: comm
      integer, allocatable :: counts(:), displs(:)
      real(real64), allocatable :: blocks(:), field(:, :)
      integer :: r, rows, cols, row0, col0, i, ierr, off
      integer(int64) :: hi, lo
      real(real64) :: s
      rc = -1
      if (h%rank == 0) then
         allocate (counts(h%nranks), displs(h%nranks), blocks(int(h%n, int64)*h%n))
         off = 0
         do r = 0, h%nranks - 1
            call block_of(h, r, rows, cols, row0, col0)
            counts(r + 1) = rows*cols
            displs(r + 1) = off
            off = off + rows*cols
         end do
      else
         allocate (counts(1), displs(1), blocks(1))
      end if
      call mpi_gatherv(h%u, h%rows*h%cols, MPI_DOUBLE_PRECISION, blocks, counts, displs, &
                       MPI_DOUBLE_PRECISION, 0, comm, ierr)
      if (ierr /= MPI_SUCCESS) then
         write (error_unit, '(a)') 'heat2d_f90: MPI_Gatherv of the result failed'
         return
      end if
      rc = 0
      if (h%rank /= 0) return
      allocate (field(h%n, h%n))
      do r = 0, h%nranks - 1
         call block_of(h, r, rows, cols, row0, col0)
         do i = 1, rows
            field(col0 + 1:col0 + cols, row0 + i) = &
               blocks(displs(r + 1) + (i - 1)*cols + 1:displs(r + 1) + i*cols)
         end do
      end do
      s = 0.0_real64
      do i = 1, h%n
         do r = 1, h%n
            s = s + field(r, i)
         end do
      end do
      call fnv1a(transfer(field, [0_int8]), hi, lo)
      write (output_unit, '(a,i0,a,i0,a,i0,a)') 'heat2d: N=', h%n, ' steps=', h%steps, ' ranks=', &
         h%nranks, ' checksum='//lower_hex(hi)//lower_hex(lo)//' sum='//g17(s)
      flush (output_unit)
   end function report

   ! Reads a decimal integer in [lo, hi] from text into v. Returns 0, or -1 with a message.
   integer function parse_int(what, text, lo, hi, v) result(rc)
      character(len=*), intent(in) :: what, text
      integer(int64), intent(in) :: lo, hi
      integer(int64), intent(inout) :: v
      integer(int64) :: x
      integer :: ios
      rc = 0
      if (len_trim(text) == 0) return
      read (text, *, iostat=ios) x
      if (ios /= 0 .or. verify(trim(text), '0123456789') /= 0 .or. x < lo .or. x > hi) then
         write (error_unit, '(a,i0,a,i0,a)') 'heat2d_f90: '//what//' must be an integer in [', &
            lo, ', ', hi, '], not '''//trim(text)//''''
         rc = -1
         return
      end if
      v = x
   end function parse_int

   ! Environment first, then flags. Returns 0, or -1 after printing a message.
   integer function parse_args(h) result(rc)
      type(heat), intent(inout) :: h
      character(len=256) :: arg, val
      integer(int64) :: n, steps, sleep_ms
      integer :: k
      n = 256
      steps = 300
      sleep_ms = 0
      call get_environment_variable('HEAT2D_N', val)
      rc = parse_int('HEAT2D_N', val, 1_int64, 32768_int64, n)
      call get_environment_variable('HEAT2D_STEPS', val)
      if (rc == 0) rc = parse_int('HEAT2D_STEPS', val, 0_int64, 1000000000_int64, steps)
      call get_environment_variable('HEAT2D_SLEEP_MS', val)
      if (rc == 0) rc = parse_int('HEAT2D_SLEEP_MS', val, 0_int64, 3600000_int64, sleep_ms)
      k = 1
      do while (rc == 0 .and. k <= command_argument_count())
         call get_command_argument(k, arg)
         val = ''
         if (k < command_argument_count()) call get_command_argument(k + 1, val)
         if (arg == '-n' .and. len_trim(val) > 0) then
            rc = parse_int('-n', val, 1_int64, 32768_int64, n)
         else if (arg == '-s' .and. len_trim(val) > 0) then
            rc = parse_int('-s', val, 0_int64, 1000000000_int64, steps)
         else if (arg == '--sleep-ms' .and. len_trim(val) > 0) then
            rc = parse_int('--sleep-ms', val, 0_int64, 3600000_int64, sleep_ms)
         else if (arg == '--loop' .and. val == 'rc') then
            rc = 0
         else
            write (error_unit, '(a)') 'heat2d_f90: bad argument '''//trim(arg)//''''// &
               new_line('a')//'usage: heat2d_f90 [-n N] [-s STEPS] [--sleep-ms MS] [--loop rc]'
            rc = -1
         end if
         k = k + 2
      end do
      h%n = int(n)
      h%steps = steps
      h%sleep_ms = int(sleep_ms)
   end function parse_args

end module heat2d_mod

program heat2d_f90
   use, intrinsic :: iso_fortran_env, only: int64, error_unit
   use salamander
   use heat2d_mod
   implicit none
   include 'mpif.h'
   type(heat), target :: h
   integer :: ierr, rc
   integer(int64) :: step

   call mpi_init(ierr)
   if (parse_args(h) /= 0) then
      call mpi_finalize(ierr)
      stop 2
   end if
   rc = sal_init(MPI_COMM_WORLD)
   if (rc /= SAL_OK) call fail('sal_init', rc)
   ! Local only: a replacement for a failed rank runs this alone.
   if (setup(h, sal_comm()) /= 0) call fail('setup', SAL_ERR_INVALID_ARG)
   rc = sal_protect('u', h%u, [int(h%n, int64), int(h%n, int64)], &
                    [int(h%col0, int64), int(h%row0, int64)])
   if (rc /= SAL_OK) call fail('sal_protect', rc)

   ! The return-code resume mode: after a failure sal_repair rolls every rank back to the last
   ! committed checkpoint and says which step to continue from.
   rc = sal_begin(step)
   do while (rc == SAL_OK .and. step < h%steps)
      rc = heat_step(h, sal_comm())
      if (rc == SAL_OK) rc = sal_step_done(step)
      if (rc == SAL_ERR_PROC_FAILED) rc = sal_repair(step)
   end do
   if (rc /= SAL_OK) call fail('the return-code loop', rc)

   if (report(h, sal_comm()) /= 0) call fail('report', SAL_ERR_MPI)
   rc = sal_finalize()
   if (rc /= SAL_OK) call fail('sal_finalize', rc)
   call mpi_finalize(ierr)

contains

   ! Other ranks may be waiting in a collective: end the whole job with a failure status, which a
   ! launcher in relaunch mode answers by restarting from the last committed checkpoint.
   subroutine fail(call_name, code)
      character(len=*), intent(in) :: call_name
      integer, intent(in) :: code
      write (error_unit, '(a)') 'heat2d_f90: '//call_name//': '//sal_strerror(code)//': '// &
         sal_last_error()
      call mpi_abort(MPI_COMM_WORLD, 1, ierr)
      stop 1
   end subroutine fail

end program heat2d_f90
